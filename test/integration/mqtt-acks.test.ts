import assert from 'node:assert/strict';
import { readFile } from 'node:fs/promises';
import { after, before, describe, test } from 'node:test';
import type { Results } from '../../src/metrics/results.ts';
import { runCli } from '../helpers/cli.ts';
import { pollUntil } from '../helpers/poll.ts';
import { startScriptedBroker } from '../helpers/scripted-broker.ts';
import type { BrokerScript, ScriptedBroker } from '../helpers/scripted-broker.ts';
import { TempDir } from '../helpers/temp-files.ts';

let temp: TempDir;
before(async () => {
  temp = await TempDir.create();
});
after(async () => {
  await temp.remove();
});

function lamp(version: string, ackTimeout: string): string {
  return `kind: device
name: lamp
identity: { scheme: sequential-hex, base: "0x1e0000000000", width: 12 }
mqtt:
  version: "${version}"
  reconnect: { min: 100ms, max: 400ms }
tasks:
  - name: lamp/changed
    repeat: 5
    publish:
      topic: devices/{{ device.id }}/lamp/changed
      qos: 1
      ackTimeout: ${ackTimeout}
      json: { brightness: "{{ float(0, 1) }}" }
wait: { model: constant, time: 50ms }
`;
}

interface Outcome {
  readonly results: Results;
  readonly log: { type: string; outcome: string; error?: string }[];
  readonly stderr: string;
  readonly code: number | null;
}

async function runAgainst(script: BrokerScript, device: string, ends: string[], during?: (broker: ScriptedBroker) => Promise<void>): Promise<Outcome & { received: number }> {
  const broker = await startScriptedBroker(script);
  try {
    const name = `run-${Math.random().toString(36).slice(2)}`;
    await temp.write(`${name}.device.yaml`, device);
    const profile = await temp.write(`${name}.yaml`, `kind: profile\nseed: 7\nfleet:\n  - device: ${name}.device.yaml\n    count: 4\nspawnRate: 100\n`);
    const json = temp.file(`${name}.json`);
    const log = temp.file(`${name}.ndjson`);
    const running = runCli(['run', profile, '--broker', broker.url, ...ends, '--json', json, '--log-requests', log, '--quiet'], 60_000);
    if (during) await during(broker);
    const result = await running;
    const results = JSON.parse(await readFile(json, 'utf8')) as Results;
    const lines = (await readFile(log, 'utf8'))
      .trim()
      .split('\n')
      .map((line) => JSON.parse(line) as Outcome['log'][number]);
    return { results, log: lines, stderr: result.stderr, code: result.code, received: broker.publishes };
  } finally {
    await broker.close();
  }
}

const row = (results: Results, type: string) => {
  const found = results.stats.find((stat) => stat.type === type);
  assert.ok(found, `no ${type} row`);
  return found;
};

describe('every publish ends as exactly one of acked, timed out, failed', () => {
  test('a broker that never sends PUBACK: every publish is a timeout, none a success', { timeout: 60_000 }, async () => {
    const { results, log, received } = await runAgainst({ puback: 'never' }, lamp('3.1.1', '200ms'), ['--iterations', '3']);
    const publish = row(results, 'PUBLISH');
    assert.equal(publish.requests, 4 * 3 * 5);
    assert.equal(publish.timeouts, publish.requests);
    assert.equal(publish.failures, publish.requests);
    assert.equal(received, publish.requests, 'the broker got every publish');
    const published = log.filter((line) => line.type === 'PUBLISH');
    assert.equal(published.length, publish.requests);
    assert.ok(published.every((line) => line.outcome === 'timeout'));
    assert.equal(row(results, 'CONNECT').failures, 0);
    // No ack is no answer: the waits are failed time, and PUBLISH has no latency to judge.
    assert.equal(publish.latencyMs.p50, null);
    assert.ok((publish.failedLatencyMs.p50 ?? 0) >= 200, String(publish.failedLatencyMs.p50));
  });

  test('PUBACKs that come after the timeout are counted as late, never as successes', { timeout: 60_000 }, async () => {
    const { results } = await runAgainst({ puback: { delayMs: 300 } }, lamp('3.1.1', '100ms'), ['--duration', '2s']);
    const publish = row(results, 'PUBLISH');
    assert.ok(publish.requests >= 20);
    assert.equal(publish.timeouts, publish.requests, 'no publish was acked in time');
    assert.ok(publish.lateAcks > 0, 'late acks are counted');
    assert.ok(publish.lateAcks <= publish.timeouts);
    assert.equal(results.total.lateAcks, publish.lateAcks);
  });

  test('an MQTT 5 PUBACK with a failure reason code fails the publish with that reason', { timeout: 60_000 }, async () => {
    const { results } = await runAgainst({ puback: { reasonCode: 0x87 } }, lamp('5', '1s'), ['--iterations', '2']);
    const publish = row(results, 'PUBLISH');
    assert.equal(publish.requests, 4 * 2 * 5);
    assert.equal(publish.failures, publish.requests);
    assert.equal(publish.timeouts, 0);
    const reasons = results.failures.filter((failure) => failure.type === 'PUBLISH');
    assert.deepEqual(
      reasons.map((failure) => failure.error),
      ['reason 135 Not authorized'],
    );
    // A refusing PUBACK is the broker's answer: it is timed as latency, not as failed time.
    assert.equal(typeof publish.latencyMs.p50, 'number');
    assert.equal(publish.failedLatencyMs.p50, null);
  });

  test('a refused CONNACK is a CONNECT failure with its code, retried with backoff', { timeout: 60_000 }, async () => {
    const { results } = await runAgainst({ connack: { returnCode: 5 } }, lamp('3.1.1', '1s'), ['--duration', '1500ms']);
    const connect = row(results, 'CONNECT');
    assert.equal(connect.failures, connect.requests);
    // 4 devices, backoff 100-400 ms jittered down by up to half: several attempts each, not hundreds.
    assert.ok(connect.requests >= 8 && connect.requests <= 4 * 20, `${connect.requests} connect attempts`);
    assert.equal(results.stats.find((stat) => stat.type === 'PUBLISH')?.requests ?? 0, 0, 'nothing is published without a session');
    assert.match(results.failures[0]?.error ?? '', /reason 5|Not authorized/);
  });

  test('a broker that hangs: the keepalive ends the connection, what waited fails as lost, nothing is sent into the dead socket', { timeout: 60_000 }, async () => {
    const device = lamp('3.1.1', '20s').replace('  reconnect: { min: 100ms, max: 400ms }\n', '  keepalive: 1s\n  reconnect: { min: 100ms, max: 400ms }\n');
    const { results, received } = await runAgainst({ puback: 'never', pingresp: 'never' }, device, ['--duration', '4s']);
    const publish = row(results, 'PUBLISH');
    assert.ok(publish.requests > 0);
    assert.equal(publish.timeouts, 0);
    assert.ok(results.failures.filter((failure) => failure.type === 'PUBLISH').every((failure) => failure.error.startsWith('connection lost')));
    // Every publish that was attempted reached the broker: none went into a socket the client had already given up.
    assert.equal(received, publish.requests);
    assert.ok(row(results, 'CONNECT').requests > 4, 'devices reconnected after the keepalive expired');
  });

  test('connections dropped mid-run: in-flight publishes fail as lost, devices reconnect and go on', { timeout: 60_000 }, async () => {
    // Acks take 200 ms, so a burst is always in flight when the connections drop.
    const { results, received } = await runAgainst({ puback: { delayMs: 200 } }, lamp('3.1.1', '1s'), ['--duration', '4s'], async (broker) => {
      // Drop once every device is up and bursts are on the wire (acks take 200 ms, so they are in flight).
      await pollUntil('every device up with bursts in flight', () => broker.connects >= 4 && broker.publishes >= 20, 20_000);
      broker.dropAll();
    });
    const connect = row(results, 'CONNECT');
    const publish = row(results, 'PUBLISH');
    assert.ok(connect.requests >= 8, `${connect.requests} connects: each device reconnected`);
    const lost = results.failures.filter((failure) => failure.type === 'PUBLISH' && failure.error.startsWith('connection lost'));
    assert.ok(lost.length > 0, 'in-flight publishes failed as lost');
    assert.equal(publish.timeouts, 0);
    assert.ok(publish.requests - publish.failures > 0);
    assert.ok(received >= publish.requests - publish.failures, 'every acked publish reached the broker');
    assert.ok(received <= publish.requests);
    assert.equal(results.devices.online, 4);
  });
});
