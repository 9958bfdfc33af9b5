import assert from 'node:assert/strict';
import { readFile } from 'node:fs/promises';
import { createServer } from 'node:net';
import type { AddressInfo } from 'node:net';
import { after, before, describe, test } from 'node:test';
import { connectAsync } from 'mqtt';
import { MqttFixture, startFixtures } from '../../broker-fixture/index.ts';
import { foldTopic } from '../../broker-fixture/mqtt-fixture.ts';
import type { Results } from '../../src/metrics/results.ts';
import { runCli } from '../helpers/cli.ts';
import { TempDir } from '../helpers/temp-files.ts';

let temp: TempDir;
before(async () => {
  temp = await TempDir.create();
});
after(async () => {
  await temp.remove();
});

describe('the embedded MQTT broker', () => {
  test('counts what clients publish, by QoS and folded topic, and sends one OTA command to a listening device', { timeout: 20_000 }, async () => {
    const fixture = new MqttFixture({ otaAfterMs: 50 });
    const url = await fixture.listen(0);
    const device = await connectAsync(url, { clientId: 'abc123def', reconnectPeriod: 0 }, false);
    try {
      const command = new Promise<{ topic: string; payload: string }>((resolve) => device.once('message', (topic, payload) => resolve({ topic, payload: payload.toString() })));
      await device.subscribeAsync('devices/abc123def/ota', { qos: 1 });
      await device.publishAsync('devices/abc123def/lamp/changed', 'a', { qos: 0 });
      await device.publishAsync('devices/abc123def/lamp/changed', 'b', { qos: 1 });
      await device.publishAsync('devices/1e0000000001/lamp/changed', 'c', { qos: 2 });
      const ota = await command;
      assert.equal(ota.topic, 'devices/abc123def/ota');
      assert.deepEqual(Object.keys(JSON.parse(ota.payload) as object).sort(), ['command', 'job', 'version']);
      // QoS 0 has no ack: poll the broker's count until it has arrived.
      const deadline = Date.now() + 5000;
      while (fixture.counts.publishesReceived < 3 && Date.now() < deadline) await new Promise((resolve) => setImmediate(resolve));
      assert.equal(fixture.counts.publishesReceived, 3);
      assert.deepEqual(fixture.counts.publishesByQos, { 0: 1, 1: 1, 2: 1 });
      assert.deepEqual(fixture.counts.topics, { 'devices/+/lamp/changed': 3 });
      assert.equal(fixture.counts.otaCommandsSent, 1);
      assert.equal(fixture.counts.connects, 1);
    } finally {
      // Closing with the client still connected must not hang.
      await fixture.close();
      await device.endAsync(true);
    }
  });

  test('folds device ids out of topics', () => {
    assert.equal(foldTopic('devices/1e0000000abc/lamp/changed'), 'devices/+/lamp/changed');
    assert.equal(foldTopic('devices/42/ota'), 'devices/+/ota');
    assert.equal(foldTopic('devices/status'), 'devices/status');
  });

  test('the worker-thread fixtures expose a working broker URL and its counts', { timeout: 20_000 }, async () => {
    const fixtures = await startFixtures();
    try {
      const client = await connectAsync(fixtures.brokerUrl, { reconnectPeriod: 0 }, false);
      await client.publishAsync('devices/abcdef01/telemetry', '{}', { qos: 1 });
      await client.endAsync();
      const counts = await fixtures.mqttCounts();
      assert.equal(counts.publishesReceived, 1);
      assert.deepEqual(counts.topics, { 'devices/+/telemetry': 1 });
    } finally {
      await fixtures.close();
    }
  });
});

describe('fleets against the embedded broker', () => {
  test('lamps with no broker given: the embedded broker is started and its count equals the acked publishes', { timeout: 60_000 }, async () => {
    const json = temp.file('lamps.json');
    const result = await runCli(['run', 'profiles/lamp.yaml', '-u', '20', '-r', '100', '-t', '4s', '--json', json], 40_000);
    assert.equal(result.code, 0, result.stderr);
    assert.match(result.stderr, /No broker in the profile or flags: started the embedded MQTT broker \(Aedes\) at mqtt:\/\/127\.0\.0\.1:\d+ \(worker thread\)/);
    const results = JSON.parse(await readFile(json, 'utf8')) as Results;
    const publish = results.stats.find((stat) => stat.type === 'PUBLISH');
    assert.ok(publish && publish.requests > 100);
    assert.equal(results.total.failures, 0);
    const counted = /The embedded broker counted: 20 connects, (\d+) publishes received \(devices\/\+\/lamp\/changed (\d+)\)/.exec(result.stderr);
    assert.ok(counted, result.stderr);
    assert.equal(Number(counted[1]), publish.requests);
  });

  test('mqtt-sensor: HTTP greet on boot, periodic telemetry, and an answer to every OTA command', { timeout: 60_000 }, async () => {
    const json = temp.file('sensors.json');
    const result = await runCli(['run', 'profiles/mqtt-sensor.yaml', '-u', '10', '-r', '50', '-t', '7s', '--json', json, '--quiet'], 40_000);
    assert.equal(result.code, 0, result.stderr);
    const results = JSON.parse(await readFile(json, 'utf8')) as Results;
    const count = (type: string, name: string): number | undefined => results.stats.find((stat) => stat.type === type && stat.name === name)?.requests;
    assert.equal(count('GET', '/greet'), 10);
    assert.equal(count('CONNECT', 'mqtt-sensor'), 10);
    assert.equal(count('SUBSCRIBE', 'devices/+/ota'), 10);
    // The embedded broker sends each sensor one OTA command 5 s after it subscribes.
    assert.equal(count('PUBLISH', 'ota/progress'), 10);
    assert.equal(count('POST', '/health'), 10);
    assert.ok((count('PUBLISH', 'telemetry') ?? 0) >= 5, 'telemetry from a seeded phase within the first 10 s');
    assert.equal(results.total.failures, 0);
  });

  test('more MQTT sessions than the open-file limit allows: exit 2 before connecting, naming the limit', { timeout: 30_000 }, async () => {
    const result = await runCli(['run', 'profiles/lamp.yaml', '-u', '1000', '--broker', 'mqtt://127.0.0.1:9'], 30_000, 512);
    assert.equal(result.code, 2, result.stderr);
    assert.match(result.stderr, /needs about 1064 open files \(one MQTT connection per device for 1000 devices\) but the process limit is 512 \(ulimit -n\): raise it/);
    assert.doesNotMatch(result.stderr, /^\s+at /m);
  });

  test('fleetsim fixture with its MQTT port in use: exit 2 naming --mqtt-port', { timeout: 30_000 }, async () => {
    const blocker = createServer();
    await new Promise<void>((resolve) => blocker.listen(0, '127.0.0.1', resolve));
    const { port } = blocker.address() as AddressInfo;
    try {
      const result = await runCli(['fixture', '--http-port', '0', '--mqtt-port', String(port)], 20_000);
      assert.equal(result.code, 2, result.stderr);
      assert.match(result.stderr, new RegExp(`--mqtt-port: 127\\.0\\.0\\.1:${port} is already in use`));
    } finally {
      await new Promise((resolve) => blocker.close(resolve));
    }
  });
});
