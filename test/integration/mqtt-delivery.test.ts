import assert from 'node:assert/strict';
import { readFile } from 'node:fs/promises';
import { after, before, describe, test } from 'node:test';
import type { DeliverySubscription } from '../../src/metrics/delivery.ts';
import type { Results, StatsRow } from '../../src/metrics/results.ts';
import { runCli } from '../helpers/cli.ts';
import { mosquittoSkip, startMosquitto } from '../helpers/mosquitto.ts';
import type { MosquittoOptions } from '../helpers/mosquitto.ts';
import { TempDir } from '../helpers/temp-files.ts';

const skip = mosquittoSkip();

let temp: TempDir;
before(async () => {
  temp = await TempDir.create();
});
after(async () => {
  await temp.remove();
});

function lamp(version: string, delivery: string, burst = 10): string {
  return `kind: device
name: lamp
identity: { scheme: sequential-hex, base: "0x1e0000000000", width: 12 }
mqtt: { version: "${version}", reconnect: { min: 200ms, max: 1s } }
tasks:
  - name: lamp/changed
    repeat: ${burst}
    publish:
      topic: devices/{{ device.id }}/lamp/changed
      qos: 1
      ackTimeout: 10s
      delivery: ${delivery}
      json: { brightness: "{{ float(0, 1, 4) }}", client: fleetsim }
wait: { model: constant, time: 1s }
`;
}

function consumer(name: string, filter: string, mqtt = 'version: "3.1.1"'): string {
  return `kind: device
name: ${name}
identity: { scheme: pattern, pattern: "${name}-{index}" }
mqtt: { ${mqtt} }
on:
  - topic: ${filter}
    qos: 1
`;
}

interface Fleet {
  readonly lamps: number;
  readonly lamp: string;
  /** Device models that only listen, with their counts. */
  readonly consumers: readonly (readonly [string, number])[];
  /** How long the lamps publish once all are up. */
  readonly publishFor: string;
  readonly broker?: MosquittoOptions;
}

/**
 * Consumers start first (devices that only listen take the first indices) and are held alone for two
 * seconds, so every lamp publish goes out after their SUBACKs: all of it is expected.
 */
async function runDelivery(fleet: Fleet): Promise<{ results: Results; stdout: string; log: string }> {
  const broker = await startMosquitto({ ...fleet.broker });
  try {
    const name = `delivery-${Math.random().toString(36).slice(2)}`;
    await temp.write(`${name}.lamp.yaml`, fleet.lamp);
    const entries = [`  - device: ${name}.lamp.yaml\n    count: ${fleet.lamps}`];
    let listeners = 0;
    for (const [index, [model, count]] of fleet.consumers.entries()) {
      await temp.write(`${name}.consumer${index}.yaml`, model);
      entries.push(`  - device: ${name}.consumer${index}.yaml\n    count: ${count}`);
      listeners += count;
    }
    const profile = await temp.write(`${name}.yaml`, `kind: profile\nseed: 11\nfleet:\n${entries.join('\n')}\n`);
    const json = temp.file(`${name}.json`);
    const total = fleet.lamps + listeners;
    const stages = ['--stage', `300ms:${listeners}`, '--stage', `2s:${listeners}`, '--stage', `1s:${total}`, '--stage', `${fleet.publishFor}:${total}`];
    const result = await runCli(['run', profile, '--broker', broker.url, '--json', json, '--quiet', ...stages], 110_000);
    assert.ok(result.code === 0 || result.code === 99, result.stderr);
    return { results: JSON.parse(await readFile(json, 'utf8')) as Results, stdout: result.stdout, log: broker.log() };
  } finally {
    await broker.stop();
  }
}

function row(results: Results, type: string, name?: string): StatsRow {
  const found = results.stats.find((stat) => stat.type === type && (name === undefined || stat.name === name));
  assert.ok(found, `no ${type} ${name ?? ''} row`);
  return found;
}

function subscription(results: Results, name: string): DeliverySubscription {
  const found = results.delivery?.subscriptions.find((candidate) => candidate.name === name);
  assert.ok(found, `no delivery counts for ${name}: ${JSON.stringify(results.delivery?.subscriptions)}`);
  return found;
}

describe('delivery to subscribers, against a real Mosquitto', { skip, concurrency: false }, () => {
  test('100 lamps and 2 consumers: delivered = published × 2, none lost, latency in the DELIVER row', { timeout: 120_000 }, async () => {
    const { results, stdout } = await runDelivery({ lamps: 100, lamp: lamp('3.1.1', 'payload'), consumers: [[consumer('backend', 'devices/+/lamp/changed'), 2]], publishFor: '4s' });
    const publish = row(results, 'PUBLISH');
    assert.equal(publish.failures, 0, JSON.stringify(results.failures));
    assert.ok(publish.requests >= 2000, `${publish.requests} publishes`);
    const counts = subscription(results, 'devices/+/lamp/changed');
    assert.equal(counts.subscribers, 2);
    assert.equal(counts.expected, publish.requests * 2);
    assert.equal(counts.delivered, publish.requests * 2, 'every publish reached both consumers');
    assert.equal(counts.lost, 0);
    assert.equal(counts.duplicates, 0);
    const deliver = row(results, 'DELIVER', 'devices/+/lamp/changed');
    assert.equal(deliver.requests, publish.requests * 2);
    assert.ok(deliver.latencyMs.p50 !== null && deliver.latencyMs.p50 > 0, 'publish-to-receipt latency recorded');
    const delivery = results.delivery;
    assert.ok(delivery);
    assert.equal(delivery.total.published, publish.requests);
    assert.equal(delivery.publishers.length, 100);
    assert.ok(delivery.publishers.every((publisher) => publisher.lost === 0 && publisher.delivered === publisher.acked * 2));
    assert.match(stdout, /Delivery: [\d,]+ measured publishes sent, [\d,]+ acked; expected [\d,]+, delivered [\d,]+, lost 0/);
    assert.match(stdout, /^DELIVER +devices\/\+\/lamp\/changed/m);
  });

  test('a slow consumer (Receive Maximum 1, 20 ms per message) behind a 50-message broker queue: loss and latency show in its row only', { timeout: 120_000 }, async () => {
    // 10 lamps send 100 messages/s; the slow consumer takes 50/s, so the broker's queue for it overflows.
    // The fast one, subscribed to the same topics under another filter, takes them as they come.
    const slow = consumer('slow', 'devices/+/lamp/#', 'version: "5", receiveMaximum: 1, processing: 20ms');
    const fast = consumer('fast', 'devices/+/lamp/changed', 'version: "5", receiveMaximum: 1000');
    const { results, log } = await runDelivery({
      lamps: 10,
      lamp: lamp('3.1.1', 'payload'),
      consumers: [
        [fast, 1],
        [slow, 1],
      ],
      publishFor: '3s',
      broker: { maxQueued: 50 },
    });
    const fastCounts = subscription(results, 'devices/+/lamp/changed');
    const slowCounts = subscription(results, 'devices/+/lamp/#');
    assert.equal(fastCounts.lost, 0, 'the fast consumer gets everything');
    assert.ok(slowCounts.lost > 0, `the broker dropped what the slow consumer could not take: ${JSON.stringify(slowCounts)}`);
    assert.equal(slowCounts.delivered + slowCounts.lost, slowCounts.expected);
    assert.match(log, /Outgoing messages are being dropped for client slow-/);
    const fastRow = row(results, 'DELIVER', 'devices/+/lamp/changed');
    const slowRow = row(results, 'DELIVER', 'devices/+/lamp/#');
    assert.ok((slowRow.latencyMs.p99 ?? 0) > 100, `a queue behind a slow consumer: p99 ${slowRow.latencyMs.p99} ms`);
    assert.ok((slowRow.latencyMs.p99 ?? 0) > (fastRow.latencyMs.p99 ?? 0), 'slower than the fast consumer');
  });

  test('MQTT 5 lamps with the header as a user property, 3 workers on $share/backend: each message reaches one worker', { timeout: 120_000 }, async () => {
    const worker = consumer('worker', '$share/backend/devices/+/lamp/changed', 'version: "5"');
    const { results } = await runDelivery({ lamps: 30, lamp: lamp('5', 'property'), consumers: [[worker, 3]], publishFor: '3s' });
    const publish = row(results, 'PUBLISH');
    assert.equal(publish.failures, 0, JSON.stringify(results.failures));
    const counts = subscription(results, '$share/backend/devices/+/lamp/changed');
    assert.equal(counts.subscribers, 3);
    assert.equal(counts.expected, publish.requests, 'a shared group expects each message once');
    assert.equal(counts.delivered, publish.requests);
    assert.equal(counts.lost, 0);
    assert.equal(counts.duplicates, 0);
    assert.equal(row(results, 'DELIVER').requests, publish.requests);
  });
});

describe('delivery against the embedded Aedes broker (no Mosquitto needed)', () => {
  test('20 lamps and 2 consumers started by fleetsim itself: delivered = published × 2, none lost', { timeout: 120_000 }, async () => {
    const name = `aedes-${Math.random().toString(36).slice(2)}`;
    await temp.write(`${name}.lamp.yaml`, lamp('3.1.1', 'payload', 5));
    await temp.write(`${name}.consumer.yaml`, consumer('backend', 'devices/+/lamp/changed'));
    const profile = await temp.write(`${name}.yaml`, `kind: profile\nseed: 3\nfleet:\n  - device: ${name}.lamp.yaml\n    count: 20\n  - device: ${name}.consumer.yaml\n    count: 2\n`);
    const json = temp.file(`${name}.json`);
    const result = await runCli(['run', profile, '--json', json, '--quiet', '--stage', '300ms:2', '--stage', '2s:2', '--stage', '1s:22', '--stage', '3s:22'], 110_000);
    assert.equal(result.code, 0, result.stderr);
    const results = JSON.parse(await readFile(json, 'utf8')) as Results;
    const publish = row(results, 'PUBLISH');
    assert.equal(publish.failures, 0, JSON.stringify(results.failures));
    const counts = subscription(results, 'devices/+/lamp/changed');
    assert.equal(counts.delivered, publish.requests * 2);
    assert.equal(counts.lost, 0);
    assert.equal(row(results, 'DELIVER').requests, publish.requests * 2);
  });
});
