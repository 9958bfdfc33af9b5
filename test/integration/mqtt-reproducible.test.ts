import assert from 'node:assert/strict';
import { readFile } from 'node:fs/promises';
import { after, before, describe, test } from 'node:test';
import { connectAsync } from 'mqtt';
import type { MqttClient } from 'mqtt';
import { runCli } from '../helpers/cli.ts';
import { mosquittoSkip, startMosquitto } from '../helpers/mosquitto.ts';
import type { MosquittoBroker } from '../helpers/mosquitto.ts';
import { pollUntil } from '../helpers/poll.ts';
import { TempDir } from '../helpers/temp-files.ts';

const skip = mosquittoSkip();
const DEVICES = 6;
const ITERATIONS = 25;

// Every publish carries the device's seq and a draw from its task stream; a reaction publishes a draw of its own.
const DEVICE = `kind: device
name: lamp
identity: { scheme: sequential-hex, base: "0x1e0000000000", width: 12 }
mqtt:
  version: "5"
  reconnect: { min: 100ms, max: 300ms }
tasks:
  - name: lamp/changed
    repeat: 4
    publish:
      topic: devices/{{ device.id }}/lamp/changed
      qos: 1
      ackTimeout: 2s
      json: { seq: "{{ seq }}", brightness: "{{ float(0, 1, 6) }}" }
wait: { model: between, min: 50ms, max: 150ms }
on:
  - topic: "devices/{{ device.id }}/cmd"
    steps:
      - name: cmd/ack
        publish: { topic: "devices/{{ device.id }}/ack", json: { noise: "{{ float(0, 1, 6) }}" } }
`;

let temp: TempDir;
let profile: string;
let broker: MosquittoBroker | undefined;
before(async () => {
  temp = await TempDir.create();
  await temp.write('lamp.device.yaml', DEVICE);
  profile = await temp.write('lamps.yaml', `kind: profile\nseed: 11\nfleet:\n  - device: lamp.device.yaml\n    count: ${DEVICES}\nspawnRate: 200\n`);
  if (!skip) broker = await startMosquitto();
});
after(async () => {
  await broker?.stop();
  await temp.remove();
});

interface Line {
  readonly device: string;
  readonly seq: number;
  readonly type: string;
  readonly name: string;
  readonly target: string;
  readonly body: string;
  readonly outcome: string;
  readonly error?: string;
}

/** A run of the lamps; `during` acts on the broker while it goes, once devices have published `after` messages. */
async function run(during?: { after: number; act: (watcher: MqttClient) => Promise<void> }): Promise<Line[]> {
  const url = (broker as MosquittoBroker).url;
  const log = temp.file(`run-${Math.random().toString(36).slice(2)}.ndjson`);
  const watcher = await connectAsync(url, { reconnectPeriod: 200, protocolVersion: 5 }, false);
  let seen = 0;
  watcher.on('message', () => seen++);
  await watcher.subscribeAsync('devices/+/lamp/changed', { qos: 0 });
  try {
    const running = runCli(['run', profile, '--broker', url, '--iterations', String(ITERATIONS), '--log-requests', log, '--quiet'], 90_000);
    if (during) {
      await pollUntil(`${during.after} lamp publishes at the broker`, () => seen >= during.after, 30_000);
      await during.act(watcher);
    }
    const result = await running;
    assert.equal(result.code, 0, result.stderr);
  } finally {
    await watcher.endAsync(true);
  }
  return (await readFile(log, 'utf8'))
    .trim()
    .split('\n')
    .map((line) => JSON.parse(line) as Line);
}

/** The reproducible part of every task publish, sorted. */
function taskPublishes(lines: readonly Line[]): string[] {
  return lines
    .filter((line) => line.type === 'PUBLISH' && line.name === 'lamp/changed')
    .map((line) => JSON.stringify([line.device, line.seq, line.type, line.name, line.target, line.body]))
    .sort();
}

describe('what a device sends does not depend on its session (Mosquitto)', { skip }, () => {
  test('a broker restart mid-run: every task publish has the same (device, seq, type, name, target, body)', { timeout: 120_000 }, async () => {
    const calm = await run();
    assert.equal(taskPublishes(calm).length, DEVICES * ITERATIONS * 4);
    assert.ok(
      calm.every((line) => line.outcome === 'ok'),
      'the calm run has no failures',
    );
    const restarted = await run({ after: DEVICES * 4 * 5, act: () => (broker as MosquittoBroker).restart() });
    const connects = restarted.filter((line) => line.type === 'CONNECT');
    assert.ok(connects.length > DEVICES, `${connects.length} CONNECTs: the devices reconnected`);
    assert.ok(restarted.filter((line) => line.type === 'SUBSCRIBE').length > DEVICES, 'the reaction was subscribed again on every connect');
    assert.deepEqual(taskPublishes(restarted), taskPublishes(calm));
  });

  test('downlink commands mid-run: the reactions draw apart, the task publishes stay the same', { timeout: 120_000 }, async () => {
    const calm = await run();
    const commanded = await run({
      after: DEVICES * 4 * 3,
      act: async (watcher) => {
        for (let index = 0; index < DEVICES; index++) {
          const id = (0x1e0000000000 + index).toString(16).padStart(12, '0');
          await watcher.publishAsync(`devices/${id}/cmd`, 'go', { qos: 1 });
        }
      },
    });
    const acks = commanded.filter((line) => line.name === 'cmd/ack');
    assert.equal(acks.length, DEVICES, 'each device reacted once');
    assert.deepEqual(
      acks.map((line) => line.seq),
      acks.map(() => 0),
      "a reaction's attempts are numbered apart from the tasks'",
    );
    assert.deepEqual(taskPublishes(commanded), taskPublishes(calm));
  });
});
