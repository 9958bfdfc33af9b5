import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { MqttSession } from '../../src/transport/mqtt/mqtt.ts';
import type { SessionListener, SessionOptions } from '../../src/transport/mqtt/mqtt.ts';
import type { Outcome } from '../../src/transport/types.ts';
import { runCli } from '../helpers/cli.ts';
import { pollUntil } from '../helpers/poll.ts';
import { startScriptedBroker } from '../helpers/scripted-broker.ts';
import type { BrokerScript } from '../helpers/scripted-broker.ts';
import { TempDir } from '../helpers/temp-files.ts';

/** fleetsim's own client on paths the other suites do not reach: packet ids past 65,535, and backoff across a success. */

let temp: TempDir;
before(async () => {
  temp = await TempDir.create();
});
after(async () => {
  await temp.remove();
});

class Recorder implements SessionListener {
  readonly connects: Outcome[] = [];
  connectEnded(outcome: Outcome): void {
    this.connects.push(outcome);
  }
  connectionLost(): void {}
  message(): void {}
}

function options(url: string): SessionOptions {
  const { hostname, port } = new URL(url);
  return {
    host: hostname,
    port: Number(port),
    tls: undefined,
    clientId: 'wrap',
    protocolVersion: 4,
    clean: true,
    keepaliveS: 30,
    username: undefined,
    password: undefined,
    will: undefined,
    connectTimeoutMs: 5_000,
  };
}

describe('client paths', () => {
  test('packet ids wrap from 65,535 to 1 (never 0) once acked ids are free, and every publish past the wrap is acked', { timeout: 120_000 }, async () => {
    const broker = await startScriptedBroker({});
    const heard = new Recorder();
    const session = new MqttSession(heard);
    try {
      session.connect(options(broker.url));
      await pollUntil('the CONNECT', () => heard.connects.length === 1);
      const total = 65_535 + 1_000;
      let acked = 0;
      const failures: string[] = [];
      // In windows of 1,000 in flight, so ids are freed by acks as they are taken.
      for (let sent = 0; sent < total;) {
        const window = Math.min(1_000, total - sent);
        const target = acked + window;
        for (let i = 0; i < window; i++) session.publish('t', '', 1, false, 30_000, (error) => (error === undefined ? acked++ : failures.push(error)));
        sent += window;
        await pollUntil(`${target} acks`, () => acked + failures.length >= target, 30_000);
      }
      assert.deepEqual(failures, []);
      assert.equal(acked, total);
      const ids = broker.log.filter((packet) => packet.cmd === 'publish').map((packet) => packet.messageId);
      assert.equal(ids.length, total);
      assert.equal(ids[65_534], 65_535);
      assert.deepEqual(ids.slice(65_535, 65_538), [1, 2, 3], 'after 65,535 comes 1');
      assert.ok(!ids.includes(0), 'packet id 0 is never used');
    } finally {
      await session.close(false);
      await broker.close();
    }
  });

  test('reconnect backoff doubles up to its cap while CONNECTs are refused, and starts over after a successful one', { timeout: 60_000 }, async () => {
    const script: BrokerScript = { connack: { returnCode: 3 } };
    const broker = await startScriptedBroker(script);
    try {
      const device = await temp.write(
        'backoff.device.yaml',
        `kind: device
name: sensor
mqtt:
  reconnect: { min: 100ms, max: 1600ms, multiplier: 2, jitter: 0 }
tasks:
  - publish: { topic: t, qos: 0, payload: x }
wait: { model: constant, time: 1s }
`,
      );
      const profile = await temp.write('backoff.yaml', `kind: profile\nseed: 1\nfleet:\n  - device: ${device}\n    count: 1\nspawnRate: 10\n`);
      const connectTimes = (): number[] => broker.log.filter((packet) => packet.cmd === 'connect').map((packet) => packet.at);
      // The broker refuses, then drops, on purpose: the load falls short by design, and only the backoff is under test.
      const running = runCli(['run', profile, '--broker', broker.url, '--duration', '12s', '--quiet', '--min-delivered', 'off'], 60_000);
      // Refused at 0, +100, +200, +400, +800, +1600 ms: then the broker starts accepting.
      await pollUntil('six refused CONNECTs', () => connectTimes().length >= 6, 30_000);
      script.connack = 'accept';
      await pollUntil('an accepted CONNECT', () => connectTimes().length >= 7, 30_000);
      await pollUntil('a publish on the accepted connection', () => broker.publishes >= 1, 10_000);
      const droppedAt = Date.now();
      broker.dropAll();
      await pollUntil('the reconnect', () => connectTimes().length >= 8, 30_000);
      const result = await running;
      assert.equal(result.code, 0, result.stderr);
      const times = connectTimes();
      const gaps = times.slice(1, 7).map((at, i) => at - (times[i] as number));
      for (const [i, gap] of gaps.entries()) assert.ok(gap >= 100 * 2 ** Math.min(i, 4) - 5, `gap ${i} is ${gap} ms: ${gaps.join(', ')}`);
      assert.ok((gaps[4] as number) >= 1_500 && (gaps[5] as number) >= 1_500, `capped at 1.6 s: ${gaps.join(', ')}`);
      const afterSuccess = (times[7] as number) - droppedAt;
      assert.ok(afterSuccess < 800, `after a successful CONNECT the backoff starts again at its minimum: ${afterSuccess} ms, not the 1.6 s cap`);
    } finally {
      await broker.close();
    }
  });
});
