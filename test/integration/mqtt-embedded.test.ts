import assert from 'node:assert/strict';
import { readFile } from 'node:fs/promises';
import { createServer } from 'node:net';
import type { AddressInfo } from 'node:net';
import { after, before, describe, test } from 'node:test';
import { connectAsync } from 'mqtt';
import { MqttFixture, startFixtures } from '../../broker-fixture/index.ts';
import { foldTopic } from '../../broker-fixture/mqtt-fixture.ts';
import type { Results } from '../../src/metrics/results.ts';
import { runCli, startCli } from '../helpers/cli.ts';
import { pollUntil } from '../helpers/poll.ts';
import { TempDir } from '../helpers/temp-files.ts';

let temp: TempDir;
before(async () => {
  temp = await TempDir.create();
});
after(async () => {
  await temp.remove();
});

describe('the embedded MQTT broker', () => {
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

  test('lamps: a bare threshold reads PUBLISH Aggregated, CONNECT has its own aggregate, and a threshold can select a type', { timeout: 60_000 }, async () => {
    const json = temp.file('lamp-thresholds.json');
    const thresholds = ['p95 < 500ms', 'PUBLISH: p99 < 1s', 'CONNECT: requests == 20', 'Aggregated: requests > 0'];
    const result = await runCli(['run', 'profiles/lamp.yaml', '-u', '20', '-r', '100', '-t', '4s', '--json', json, ...thresholds.flatMap((threshold) => ['--threshold', threshold])], 40_000);
    assert.equal(result.code, 0, `${result.stdout}\n${result.stderr}`);
    const results = JSON.parse(await readFile(json, 'utf8')) as Results;
    assert.equal(results.bareThresholdsRead, 'PUBLISH Aggregated');
    const publish = results.types.find((row) => row.name === 'PUBLISH Aggregated');
    const connect = results.types.find((row) => row.name === 'CONNECT Aggregated');
    assert.ok(publish && connect);
    assert.equal(connect.requests, 20);
    assert.equal(publish.requests + connect.requests, results.total.requests);
    // The bare threshold's value is PUBLISH's p95, not the total's, which CONNECT times pull up.
    const find = (expr: string): Results['thresholds'][number] | undefined => results.thresholds.find((threshold) => threshold.expr === expr);
    const [bare, byType, connects, whole] = thresholds.map(find);
    assert.deepEqual([bare?.row, bare?.value], ['PUBLISH Aggregated', publish.latencyMs.p95]);
    assert.deepEqual([byType?.row, byType?.value], ['PUBLISH Aggregated', publish.latencyMs.p99]);
    assert.deepEqual([connects?.row, connects?.value], ['CONNECT Aggregated', 20]);
    assert.deepEqual([whole?.row, whole?.value], ['Aggregated', results.total.requests]);
    assert.match(result.stdout, /A threshold without a selector reads PUBLISH Aggregated/);
    assert.match(result.stdout, /^\s+ok {3}p95 < 500ms \([\d.]+ ms on PUBLISH Aggregated\)$/m);
    assert.match(result.stdout, /^CONNECT\s+CONNECT Aggregated\s+20\s/m);
    assert.match(result.stdout, /\n\d+ thresholds: all passed(; [\d.]+% of the offered load delivered)?\n?$/);
  });

  test('mqtt-sensor: HTTP greet on boot, periodic telemetry, and an answer to every OTA command', { timeout: 60_000 }, async () => {
    const json = temp.file('sensors.json');
    const result = await runCli(['run', 'profiles/mqtt-sensor.yaml', '-u', '10', '-r', '50', '-t', '8s', '--json', json, '--quiet'], 40_000);
    assert.equal(result.code, 0, result.stderr);
    const results = JSON.parse(await readFile(json, 'utf8')) as Results;
    const count = (type: string, name: string): number | undefined => results.stats.find((stat) => stat.type === type && stat.name === name)?.requests;
    assert.equal(count('GET', '/greet'), 10);
    assert.equal(count('CONNECT', 'mqtt-sensor'), 10);
    assert.equal(count('SUBSCRIBE', 'devices/+/ota'), 10);
    // The embedded broker sends each sensor one OTA command 5 s after it subscribes.
    assert.equal(count('PUBLISH', 'ota/progress'), 10);
    assert.equal(count('POST', '/health'), 10);
    assert.deepEqual(results.downlink, { received: 10, reactionsQueued: 10, reactionsDropped: 0, reactionsFailed: 0, reactionFailures: [] });
    assert.ok((count('PUBLISH', 'telemetry') ?? 0) >= 5, 'telemetry from a seeded phase within the first 10 s');
    assert.equal(results.total.failures, 0);
  });

  test('more MQTT sessions than the open-file limit allows: exit 2 before connecting, naming the limit', { timeout: 30_000 }, async () => {
    // A listening socket nobody would mind a connection to, should the check ever let the run start.
    const bystander = createServer((socket) => socket.destroy());
    await new Promise<void>((resolve) => bystander.listen(0, '127.0.0.1', resolve));
    const broker = `mqtt://127.0.0.1:${(bystander.address() as AddressInfo).port}`;
    const result = await runCli(['run', 'profiles/lamp.yaml', '-u', '1000', '--broker', broker], 30_000, 512).finally(() => bystander.close());
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

/** Runs `count` devices of a model against `broker` to completion; returns the results and the request log. */
async function runModel(name: string, device: string, count: number, broker: string, args: readonly string[], profileExtra = ''): Promise<{ results: Results; log: { name: string; body: string }[] }> {
  await temp.write(`${name}.device.yaml`, device);
  const profile = await temp.write(`${name}.yaml`, `kind: profile\nseed: 5\n${profileExtra}fleet:\n  - device: ${name}.device.yaml\n    count: ${count}\n`);
  const json = temp.file(`${name}.json`);
  const log = temp.file(`${name}.ndjson`);
  const result = await runCli(['run', profile, '--broker', broker, ...args, '--json', json, '--log-requests', log, '--quiet'], 40_000);
  assert.equal(result.code, 0, result.stderr);
  assert.doesNotMatch(result.stderr, /RangeError|internal error/);
  const lines = (await readFile(log, 'utf8')).trim();
  return {
    results: JSON.parse(await readFile(json, 'utf8')) as Results,
    log: lines === '' ? [] : lines.split('\n').map((line) => JSON.parse(line) as { name: string; body: string }),
  };
}

const requestsByRow = (results: Results): Record<string, number> => Object.fromEntries(results.stats.map((stat) => [`${stat.type} ${stat.name}`, stat.requests]));

describe('MQTT actions against the embedded broker', () => {
  let fixture: MqttFixture;
  let url: string;
  before(async () => {
    fixture = new MqttFixture({ otaAfterMs: 0 });
    url = await fixture.listen(0);
  });
  after(async () => {
    await fixture.close();
  });

  test('QoS 0 (when written), QoS 2 (to PUBCOMP) and subscribe steps each count once, as the broker saw them', { timeout: 60_000 }, async () => {
    const { results } = await runModel(
      'qos',
      `kind: device
name: probe
mqtt: { clean: false, keepalive: 10s }
tasks:
  - steps:
      - name: listen
        subscribe: { topic: "devices/{{ device.id }}/cmd", qos: 1 }
      - name: fire-and-forget
        publish: { topic: "devices/{{ device.id }}/q0", payload: "{{ seq }}", qos: 0 }
      - name: exactly-once
        repeat: 3
        publish: { topic: "devices/{{ device.id }}/q2", payload: "{{ repeat.index }}", qos: 2 }
`,
      5,
      url,
      ['--iterations', '2'],
    );
    assert.deepEqual(requestsByRow(results), { 'CONNECT probe': 5, 'SUBSCRIBE listen': 10, 'PUBLISH fire-and-forget': 10, 'PUBLISH exactly-once': 30 });
    assert.equal(results.total.failures, 0);
    // QoS 0 has no ack: poll the broker's count until the last one arrived.
    await pollUntil('the QoS 0 publishes at the broker', () => fixture.counts.publishesByQos[0] >= 10);
    assert.deepEqual(fixture.counts.publishesByQos, { 0: 10, 1: 0, 2: 30 });
    assert.equal(fixture.counts.subscribes, 10);
  });

  test('idle sessions: the results count keepalive checks and PINGREQs, and how late the checks ran', { timeout: 60_000 }, async () => {
    const { results } = await runModel(
      'idler',
      `kind: device
name: idler
mqtt: { keepalive: 1s }
tasks:
  - every: 1h
    publish: { topic: "devices/{{ device.id }}/hourly", payload: x, qos: 0 }
`,
      3,
      url,
      ['--duration', '4s'],
    );
    const keepalive = results.keepalive;
    assert.ok(keepalive, 'a run with MQTT sessions carries a keepalive block');
    // Four checks per 1 s interval for about 4 s, for each of 3 sessions; an idle session pings about once a second.
    assert.ok(keepalive.checks >= 3 * 8, `${keepalive.checks} checks`);
    assert.ok(keepalive.pingsSent >= 3 * 2, `${keepalive.pingsSent} PINGREQs`);
    assert.ok(keepalive.lateP50Ms <= keepalive.lateP99Ms && keepalive.lateP99Ms <= Math.max(keepalive.lateMaxMs + 100, 1), JSON.stringify(keepalive));
  });

  test('a QoS 0 step with repeat and sleep runs its repeats once, then the next step', { timeout: 60_000 }, async () => {
    const { results, log } = await runModel(
      'sleepy',
      `kind: device
name: sleepy
tasks:
  - steps:
      - name: q0
        repeat: 3
        sleep: 20ms
        publish: { topic: "devices/{{ device.id }}/q0", payload: "{{ repeat.index }}", qos: 0 }
      - name: after
        publish: { topic: "devices/{{ device.id }}/after", payload: x, qos: 1 }
`,
      3,
      url,
      ['--iterations', '2'],
    );
    assert.deepEqual(requestsByRow(results), { 'CONNECT sleepy': 3, 'PUBLISH q0': 18, 'PUBLISH after': 6 });
    const bodies = log.filter((line) => line.name === 'q0').map((line) => line.body);
    assert.deepEqual(bodies.filter((body) => body === '0').length, 6, 'repeat.index runs 0, 1, 2 in each task');
    assert.deepEqual(bodies.filter((body) => body === '2').length, 6);
  });

  test('subscriptions made on connect are answered, not failed, when devices finish their iterations', { timeout: 60_000 }, async () => {
    const { results } = await runModel(
      'listener',
      `kind: device
name: listener
tasks:
  - publish: { topic: "devices/{{ device.id }}/hello", payload: hi, qos: 0 }
on:
  - topic: "devices/{{ device.id }}/cmd"
    steps:
      - publish: { topic: "devices/{{ device.id }}/ack", payload: ok }
`,
      5,
      url,
      ['--iterations', '1'],
    );
    const subscribe = results.stats.find((stat) => stat.type === 'SUBSCRIBE');
    assert.equal(subscribe?.requests, 5);
    assert.equal(results.total.failures, 0, JSON.stringify(results.failures));
  });

  test('a CONNECT still unanswered when the drain ends is abandoned; the run ends with its reports', { timeout: 60_000 }, async () => {
    // A server that reads connections and never answers: every CONNECT waits for its timeout.
    const silent = createServer((socket) => socket.resume());
    await new Promise<void>((resolve) => silent.listen(0, '127.0.0.1', resolve));
    try {
      const broker = `mqtt://127.0.0.1:${(silent.address() as AddressInfo).port}`;
      const device = `kind: device\nname: stuck\nmqtt: { connectTimeout: 20s }\ntasks:\n  - publish: { topic: t, payload: x }\n`;
      // The drain (1 s past the longest timeout by default) is cut to 500 ms so the connects are still waiting at its end.
      const { results } = await runModel('stuck', device, 3, broker, ['-t', '1s'], 'drainTimeout: 500ms\n');
      assert.equal(results.abandoned, 3);
      assert.equal(results.total.requests, 0);
    } finally {
      await new Promise((resolve) => silent.close(resolve));
    }
  });

  test("downlink messages beyond a busy device's reaction queue are counted as dropped", { timeout: 60_000 }, async () => {
    const device = `kind: device
name: flooded
identity: { scheme: pattern, pattern: "flood-{index}" }
tasks:
  - every: 1h
    publish: { topic: "devices/{{ device.id }}/idle", payload: x }
on:
  - topic: "devices/{{ device.id }}/cmd"
    steps:
      - repeat: 2
        sleep: 2s
        publish: { topic: "devices/{{ device.id }}/busy", payload: x }
`;
    const sender = await connectAsync(url, { reconnectPeriod: 0 }, false);
    try {
      const subscribesBefore = fixture.counts.subscribes;
      const running = runModel('flooded', device, 1, url, ['-t', '3s']);
      // Once the device has subscribed, 100 commands arrive at once: one runs, 64 wait, 35 are dropped.
      await pollUntil('the device to subscribe', () => fixture.counts.subscribes > subscribesBefore, 20_000);
      await Promise.all(Array.from({ length: 100 }, (_, i) => sender.publishAsync('devices/flood-0/cmd', String(i), { qos: 1 })));
      const { results } = await running;
      assert.deepEqual(results.downlink, { received: 100, reactionsQueued: 65, reactionsDropped: 35, reactionsFailed: 0, reactionFailures: [] });
    } finally {
      await sender.endAsync(true);
    }
  });

  test("a device's last will reaches the broker's subscribers when the simulator dies", { timeout: 60_000 }, async () => {
    await temp.write(
      'will.device.yaml',
      `kind: device
name: willing
mqtt:
  will: { topic: "devices/{{ device.id }}/status", payload: offline, qos: 1 }
tasks:
  - publish: { topic: "devices/{{ device.id }}/beat", payload: "1" }
wait: { model: constant, time: 200ms }
`,
    );
    const profile = await temp.write('will.yaml', `kind: profile\nseed: 5\nfleet:\n  - device: will.device.yaml\n    count: 2\n`);
    const watcher = await connectAsync(url, { reconnectPeriod: 0 }, false);
    try {
      const wills: string[] = [];
      const bothWills = new Promise<void>((resolve) =>
        watcher.on('message', (topic, payload) => {
          wills.push(`${topic.split('/')[2] ?? ''}=${payload.toString()}`);
          if (wills.length === 2) resolve();
        }),
      );
      await watcher.subscribeAsync('devices/+/status', { qos: 1 });
      const run = startCli(['run', profile, '--broker', url, '-t', '1m'], 40_000);
      await run.waitForStderr(/\[2s\S*\] devices 2\/2/);
      run.child.kill('SIGKILL');
      await run.done;
      await bothWills;
      assert.deepEqual(wills.sort(), ['status=offline', 'status=offline']);
    } finally {
      await watcher.endAsync(true);
    }
  });
});
