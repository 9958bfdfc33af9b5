import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { readFile } from 'node:fs/promises';
import type { Results } from '../../src/metrics/results.ts';
import { connectAsync } from 'mqtt';
import { runCli } from '../helpers/cli.ts';
import { mosquittoSkip, startMosquitto } from '../helpers/mosquitto.ts';
import { pollUntil } from '../helpers/poll.ts';
import { TempDir } from '../helpers/temp-files.ts';

let temp: TempDir;
before(async () => {
  temp = await TempDir.create();
});
after(async () => {
  await temp.remove();
});

interface LogLine {
  readonly device: string;
  readonly type: string;
  readonly name: string;
  readonly body: string | null;
  readonly outcome: string;
}

test('a reboot wave: CONNECTs and boot tasks equal the plan, each rebooted device boots with the next count', { timeout: 60_000 }, async () => {
  await temp.write(
    'rebooter.device.yaml',
    `kind: device
name: rebooter
mqtt: { keepalive: 30s, reconnect: { min: 100ms, max: 200ms } }
boot:
  - name: hello
    publish: { topic: "boot/{{ device.id }}", qos: 1, payload: "boot {{ device.boots }}" }
tasks:
  - name: reading
    publish: { topic: "readings/{{ device.id }}", qos: 1, payload: "{{ int(0, 9) }}" }
wait: { model: constant, time: 200ms }
`,
  );
  const profile = await temp.write(
    'wave.yaml',
    `kind: profile
seed: 11
fleet:
  - device: rebooter.device.yaml
    count: 10
spawn: { mode: all-at-once }
duration: 4s
events:
  - reboot: { at: 1s, share: 50%, over: 500ms, bootTime: 300ms }
`,
  );
  const json = temp.file('wave.json');
  const log = temp.file('wave.ndjson');
  const result = await runCli(['run', profile, '--json', json, '--log-requests', log, '--quiet'], 40_000);
  assert.equal(result.code, 0, result.stderr);
  const results = JSON.parse(await readFile(json, 'utf8')) as Results;
  assert.deepEqual(results.lifecycle?.planned, { reboots: 5, offline: 0 });
  assert.equal(results.lifecycle.reboots, 5);
  const connect = results.stats.find((row) => row.type === 'CONNECT');
  const hello = results.stats.find((row) => row.name === 'hello');
  // Ten first connections and one more for each reboot; ten boots and five again.
  assert.equal(connect?.requests, 15);
  assert.equal(connect.failures, 0);
  assert.equal(hello?.requests, 15);
  assert.equal(hello.failures, 0);
  const lines = (await readFile(log, 'utf8'))
    .trim()
    .split('\n')
    .map((line) => JSON.parse(line) as LogLine);
  const boots = lines.filter((line) => line.name === 'hello');
  const second = boots.filter((line) => line.body === 'boot 2');
  assert.equal(boots.filter((line) => line.body === 'boot 1').length, 10);
  assert.equal(second.length, 5);
  assert.equal(new Set(second.map((line) => line.device)).size, 5, 'five different devices rebooted');
  // The devices went on publishing after their reboot.
  for (const device of new Set(second.map((line) => line.device))) {
    const after = lines.slice(lines.findIndex((line) => line.device === device && line.body === 'boot 2'));
    assert.ok(
      after.some((line) => line.device === device && line.name === 'reading' && line.outcome === 'ok'),
      `${device} published after its reboot`,
    );
  }
});

describe('against Mosquitto', () => {
  test('a duty-cycled fleet with persistent sessions: what was published while it slept is delivered on wake, counted, and equals $SYS', { skip: mosquittoSkip(), timeout: 60_000 }, async () => {
    const broker = await startMosquitto();
    // The broker's count of PUBLISH packets it sent, at each $SYS tick. This probe subscribes to that
    // topic alone, so of what the count grows by, one a tick is the probe's own copy.
    const probe = await connectAsync(broker.url, { clientId: 'sent-probe', reconnectPeriod: 0 });
    const sent: number[] = [];
    probe.on('message', (_topic, payload) => sent.push(Number(payload.toString())));
    await probe.subscribeAsync('$SYS/broker/publish/messages/sent');
    try {
      await pollUntil('a first $SYS tick', () => sent.length > 1);
      const first = sent.length - 1;
      await temp.write(
        'sleepy.device.yaml',
        `kind: device
name: sleepy
mqtt: { version: "3.1.1", clean: false, keepalive: 30s }
lifecycle:
  sleep: { awake: 1s, asleep: 3s, jitter: 0, start: awake }
on:
  - topic: fleet/orders
    qos: 1
`,
      );
      // The sensors start awake together and sleep from 1 s to 4 s; the backend sends its 21 orders from 1.2 s.
      await temp.write(
        'backend.device.yaml',
        `kind: device
name: backend
mqtt: { version: "3.1.1", keepalive: 30s }
boot:
  - name: orders
    steps:
      - name: settle
        sleep: 1200ms
        subscribe: { topic: "backend/noop", qos: 1 }
      - name: order
        repeat: 20
        sleep: 30ms
        publish: { topic: fleet/orders, qos: 1, delivery: payload, json: { n: "{{ repeat.index }}" } }
tasks:
  - name: order
    publish: { topic: fleet/orders, qos: 1, delivery: payload, json: { n: 20 } }
wait: { model: constant, time: 1h }
`,
      );
      const profile = await temp.write(
        'sleepy.yaml',
        `kind: profile\nseed: 4\nfleet:\n  - device: sleepy.device.yaml\n    count: 3\n  - device: backend.device.yaml\n    count: 1\nspawn: { mode: all-at-once }\nduration: 5500ms\n`,
      );
      const json = temp.file('sleepy.json');
      const result = await runCli(['run', profile, '--broker', broker.url, '--json', json, '--quiet'], 40_000);
      assert.equal(result.code, 0, result.stderr);
      const results = JSON.parse(await readFile(json, 'utf8')) as Results;
      const lifecycle = results.lifecycle;
      // Each sensor slept at 1 s, woke at 4 s, and slept again at 5 s.
      assert.ok((lifecycle?.sleeps ?? 0) >= 3, `sleeps ${lifecycle?.sleeps}`);
      assert.ok((lifecycle?.wakes ?? 0) >= 3, `wakes ${lifecycle?.wakes}`);
      // Every order reached every sensor, all of them after it woke.
      assert.equal(results.delivery?.total.delivered, 63);
      assert.equal(results.delivery.total.lost, 0);
      assert.equal(lifecycle?.queuedWhileOffline, 63);
      // What the broker sent the sensors during the run, by $SYS: the probe's own copies taken out.
      const ticks = sent.length;
      await pollUntil('a $SYS tick after the run', () => sent.length > ticks, 5000);
      const last = sent.length - 1;
      const toSensors = (sent[last] as number) - (sent[first] as number) - (last - first);
      assert.equal(toSensors, lifecycle.queuedWhileOffline, `$SYS publish/messages/sent: ${sent.join(', ')}`);
      // CONNECTs: one per sensor at the start and one per wake, and the backend's.
      const connect = results.stats.find((row) => row.type === 'CONNECT' && row.name === 'sleepy');
      assert.equal(connect?.requests, 3 + lifecycle.wakes);
      assert.equal(connect.failures, 0);
    } finally {
      await probe.endAsync();
      await broker.stop();
    }
  });
});

test('an offline window for 50% of an HTTP fleet: those devices send nothing for its length, the plan says so, and the offered load leaves them out', { timeout: 60_000 }, async () => {
  await temp.write(
    'pacer.device.yaml',
    `kind: device
name: pacer
tasks:
  - name: /tick
    http: { method: POST, path: /data, json: { n: "{{ seq }}" } }
wait: { model: pacing, interval: 100ms }
`,
  );
  const profile = await temp.write(
    'tunnel.yaml',
    `kind: profile
seed: 8
fleet:
  - device: pacer.device.yaml
    count: 10
spawn: { mode: all-at-once }
duration: 4s
events:
  - offline: { at: 1s, share: 50%, for: 2s }
`,
  );
  const json = temp.file('tunnel.json');
  const log = temp.file('tunnel.ndjson');
  const html = temp.file('tunnel.html');
  const result = await runCli(['run', profile, '--json', json, '--log-requests', log, '--html', html, '--quiet'], 40_000);
  assert.equal(result.code, 0, result.stderr);
  const results = JSON.parse(await readFile(json, 'utf8')) as Results;
  assert.deepEqual(results.lifecycle?.planned, { reboots: 0, offline: 5 });
  assert.equal(results.lifecycle.offline, 5);
  const lines = (await readFile(log, 'utf8'))
    .trim()
    .split('\n')
    .map((line) => JSON.parse(line) as LogLine & { intendedAtMs: number });
  const byDevice = new Map<string, number[]>();
  for (const line of lines) byDevice.set(line.device, [...(byDevice.get(line.device) ?? []), line.intendedAtMs]);
  const quiet = [...byDevice.values()].filter((times) => !times.some((at) => at > 1150 && at < 2950));
  // Five devices were silent through the window; the other five kept their pace.
  assert.equal(quiet.length, 5);
  for (const times of quiet)
    assert.ok(
      times.some((at) => at >= 3000),
      'back after the window',
    );
  // 10 devices × 40 ticks, less 5 × 20 while offline: about 300, all of it offered.
  const tick = results.stats.find((row) => row.name === '/tick');
  assert.ok(tick && Math.abs(tick.requests - 300) <= 15, `requests ${tick?.requests}`);
  assert.ok(Math.abs((tick.offered ?? 0) - 300) <= 15, `offered ${tick.offered}`);
  assert.ok((tick.deliveredShare ?? 0) >= 0.95, `delivered share ${tick.deliveredShare}`);
  // The history holds the plan's devices online: five fewer during the window.
  const planned = results.history.map((point) => point.devicesPlanned);
  assert.ok(planned.includes(5) && planned.includes(10), `planned online ${planned.join(', ')}`);
  // The HTML report carries the plan beside the devices online for its chart.
  assert.match(await readFile(html, 'utf8'), /"devicesPlanned":5/);
});
