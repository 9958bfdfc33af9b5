import assert from 'node:assert/strict';
import { readFile } from 'node:fs/promises';
import path from 'node:path';
import { after, before, test } from 'node:test';
import { connectAsync } from 'mqtt';
import { MqttFixture } from '../../broker-fixture/index.ts';
import { Engine } from '../../src/engine/engine.ts';
import type { StopReason } from '../../src/engine/events.ts';
import type { Results } from '../../src/metrics/results.ts';
import { loadRunPlan } from '../../src/profile/load.ts';
import { ROOT, runCli } from '../helpers/cli.ts';
import { holdsFor, pollUntil } from '../helpers/poll.ts';
import { TempDir } from '../helpers/temp-files.ts';

let temp: TempDir;
before(async () => {
  temp = await TempDir.create();
});
after(async () => {
  await temp.remove();
});

const LAMP = `kind: device
name: lamp
identity: { scheme: pattern, pattern: "lamp-{index}" }
mqtt:
  keepalive: 10s
  will: { topic: "devices/{{ device.id }}/status", payload: offline, qos: 1 }
tasks:
  - name: telemetry
    publish: { topic: "devices/{{ device.id }}/telemetry", payload: "{{ seq }}", qos: 1 }
wait: { model: constant, time: 100ms }
`;

test('lowering the count ends MQTT sessions with a DISCONNECT: the broker sees clean disconnects and publishes no will', { timeout: 30_000 }, async () => {
  const fixture = new MqttFixture({ otaAfterMs: 0 });
  const url = await fixture.listen(0);
  const backend = await connectAsync(url, { reconnectPeriod: 0, clientId: 'backend' }, false);
  const wills: string[] = [];
  try {
    await backend.subscribeAsync('devices/+/status', { qos: 1 });
    backend.on('message', (topic) => wills.push(topic));
    await temp.write('lamp.device.yaml', LAMP);
    const plan = await loadRunPlan(
      await temp.write(
        'lamp.yaml',
        'seed: 4\nfleet:\n  - device: lamp.device.yaml\n    count: 1\nstages:\n  - { duration: 400ms, devices: 4 }\n  - { duration: 1600ms, devices: 4 }\n  - { duration: 300ms, devices: 1 }\n  - { duration: 2700ms, devices: 1 }\n',
      ),
    );
    const engine = new Engine({ plan, target: 'http://127.0.0.1', broker: url });
    const retired: number[] = [];
    engine.on('retire', (index) => retired.push(index));
    let reason: StopReason = 'requested';
    engine.on('done', (r) => (reason = r));
    const run = engine.run();
    await pollUntil('4 lamps online', () => engine.online === 4, 5_000);
    assert.equal(engine.timeToAllOnlineMs !== undefined, true);
    await pollUntil('the broker to see the 3 stopped lamps leave', () => fixture.counts.disconnects === 3, 6_000);
    assert.equal(engine.stopping, false, 'the lamps left while the run went on, not at its end');
    assert.deepEqual(retired, [3, 2, 1]);
    assert.equal(engine.runningDevices, 1);
    assert.equal(engine.online, 1);
    // A will is published as the broker drops the client; give it time to arrive if it was.
    await holdsFor('no will from a cleanly stopped lamp', () => wills.length === 0, 300);
    await run;
    assert.equal(reason, 'duration');
    await pollUntil('the last lamp to leave at the end', () => fixture.counts.disconnects === 4);
    await holdsFor('no will at all', () => wills.length === 0, 300);
    assert.deepEqual(wills, []);
    const publish = engine.stats.entryFor('PUBLISH', 'telemetry');
    assert.ok(publish.requests > 20, `${publish.requests} publishes`);
    assert.equal(publish.failures, 0, 'every publish in flight when a lamp stopped got its PUBACK');
    assert.equal(fixture.counts.publishesReceived, publish.requests);
    assert.equal(engine.stats.entryFor('CONNECT', 'lamp').requests, 4);
  } finally {
    await backend.endAsync(true);
    await fixture.close();
  }
});

test('a boot storm: 200 lamps all at once against the embedded broker, with the time until all were online', { timeout: 60_000 }, async () => {
  const profile = await temp.write('storm.yaml', `seed: 8\nfleet:\n  - device: ${path.join(ROOT, 'devices/lamp.yaml')}\n    count: 200\nspawn: { mode: all-at-once }\nduration: 3s\n`);
  const json = temp.file('storm.json');
  const result = await runCli(['run', profile, '--json', json, '--quiet'], 50_000);
  assert.equal(result.code, 0, result.stderr);
  const results = JSON.parse(await readFile(json, 'utf8')) as Results;
  assert.equal(results.devices.started, 200);
  const connect = results.stats.find((row) => row.type === 'CONNECT');
  assert.equal(connect?.requests, 200);
  assert.equal(connect.failures, 0);
  const reached = results.devices.timeToAllOnlineMs;
  assert.equal(typeof reached, 'number');
  assert.ok((reached ?? -1) >= 0 && (reached ?? Infinity) <= 3000, `all online at ${reached} ms`);
  assert.match(result.stdout, /All devices of the first target were online [\d.]+s after the start\./);
});
