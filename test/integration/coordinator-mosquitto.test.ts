import assert from 'node:assert/strict';
import { readFile } from 'node:fs/promises';
import { after, before, test } from 'node:test';
import type { CoordinatedResults } from '../../src/distributed/coordinated-merge.ts';
import { runCli } from '../helpers/cli.ts';
import { mosquittoSkip, startMosquitto } from '../helpers/mosquitto.ts';
import { TempDir } from '../helpers/temp-files.ts';

const skip = mosquittoSkip();
const LAMPS = 12;
const ITERATIONS = 5;
const PUBLISHES_PER_ITERATION = 10;
let temp: TempDir;
let profile: string;
before(async () => {
  temp = await TempDir.create();
  await temp.write(
    'fleet-lamp.device.yaml',
    `kind: device
name: lamp
identity: { scheme: sequential-hex, base: "0x1f0000000000", width: 12 }
tasks:
  - name: lamp/changed
    repeat: ${PUBLISHES_PER_ITERATION}
    publish: { topic: "devices/{{ device.id }}/lamp/changed", qos: 1, json: { brightness: "{{ float(0, 1) }}" } }
wait: { model: constant, time: 50ms }
`,
  );
  profile = await temp.write('fleet-lamps.yaml', `kind: profile\nseed: 8\nfleet:\n  - device: fleet-lamp.device.yaml\n    count: ${LAMPS}\nspawnRate: 120\n`);
});
after(async () => {
  await temp.remove();
});

// `run --workers` is the coordinator's local case: the same one probe for the fleet.
const MODES = {
  'coordinate --local': ['coordinate', '--workers', '3', '--local', '--listen', '127.0.0.1:0', '--token', 'mosquitto-fleet-token'],
  'run --workers': ['run', '--workers', '3'],
} as const;

for (const [mode, [command, ...flags]] of Object.entries(MODES)) {
  test(`MQTT lamps against Mosquitto, ${mode} with 3 workers: the merged publish count is the broker $SYS count, and the broker line appears once`, { skip, timeout: 90_000 }, async () => {
    const broker = await startMosquitto();
    try {
      const json = temp.file(`fleet-${command}.json`);
      const before = await broker.publishesReceived();
      const result = await runCli([command, profile, '--broker', broker.url, '--iterations', String(ITERATIONS), ...flags, '--broker-stats', '--json', json], 80_000);
      assert.equal(result.code, 0, result.stderr);
      const received = (await broker.publishesReceived()) - before;
      const results = JSON.parse(await readFile(json, 'utf8')) as CoordinatedResults;
      assert.deepEqual(
        results.coordinator.workers.map((worker) => worker.state),
        ['finished', 'finished', 'finished'],
      );
      const publish = results.stats.find((row) => row.type === 'PUBLISH');
      assert.equal(publish?.requests, LAMPS * ITERATIONS * PUBLISHES_PER_ITERATION);
      assert.equal(publish.failures, 0);
      // The broker's own count, read from $SYS here and by the coordinator's one probe.
      assert.equal(received, publish.requests);
      assert.equal(results.broker?.publishReceived, publish.requests);
      assert.equal(results.broker.fresh, true);
      // One probe for the fleet: one broker line, whatever the workers print.
      const lines = `${result.stdout}\n${result.stderr}`.split('\n').filter((line) => line.startsWith('Broker ($SYS):'));
      assert.equal(lines.length, 1, lines.join('\n'));
      assert.match(lines[0] ?? '', new RegExp(`received ${publish.requests.toLocaleString('en-US')} publishes during the run \\(fleetsim acked ${publish.requests.toLocaleString('en-US')}\\)`));
    } finally {
      await broker.stop();
    }
  });
}
