import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { readFile } from 'node:fs/promises';
import type { CapacityReport } from '../../src/cli/capacity-command.ts';
import { capacityCommand } from '../../src/cli/capacity-command.ts';
import type { Results } from '../../src/metrics/results.ts';
import { startChildServer } from '../helpers/child-server.ts';
import type { ChildServer } from '../helpers/child-server.ts';
import { TempDir } from '../helpers/temp-files.ts';

// A broker of known capacity in its own process: one QoS 1 publish at a time, 1 ms each, so 1,000 a
// second; past that its acks queue. (bench/capacity-mqtt.ts sizes a real Mosquitto starved on
// purpose, which depends on the machine's speed.)
const SERVICE_MS = 1;
const CAPACITY = 1000 / SERVICE_MS;

let temp: TempDir;
let broker: ChildServer;
let brokerUrl: string;
before(async () => {
  temp = await TempDir.create();
  broker = await startChildServer('test/helpers/serial-broker.ts', { SERVICE_MS: String(SERVICE_MS) });
  brokerUrl = `mqtt://127.0.0.1:${new URL(broker.url).port}`;
});
after(async () => {
  await broker.stop();
  await temp.remove();
});

/** Stops the broker and reads the count of PUBLISHes it received, which it prints as it goes. */
async function publishesReceived(): Promise<number> {
  let text = '';
  broker.child.stdout?.setEncoding('utf8').on('data', (chunk: string) => (text += chunk));
  await broker.stop();
  return Number(/publishes (\d+)/.exec(text)?.[1] ?? NaN);
}

test('MQTT broker sizing against a broker of known capacity: the knee near its rate, limited by the target, counted as the broker counts', { timeout: 90_000 }, async () => {
  const json = temp.file('lamps.json');
  const results = temp.file('lamps-results.json');
  let stdout = '';
  const stderr: string[] = [];
  const code = await capacityCommand(
    {
      profile: 'profiles/lamp.yaml',
      broker: brokerUrl,
      slo: ['PUBLISH: p99 < 100ms', 'PUBLISH: timeouts < 0.1%'],
      // Lamps touch every 1-2 s in bursts of 10: about 6.7 publishes a second each, so ~150 fill the broker.
      start: '80',
      step: '40',
      maxDevices: '400',
      stepDuration: '2s',
      settle: '1s',
      spawnRate: '250',
      refine: true,
      // Lamps wait after each burst's acks, so a queueing broker slows their rate by its answer time:
      // the floor is lowered to what a closed model delivers near the knee.
      minDelivered: '90%',
      json,
      results,
      quiet: true,
    },
    { stdout: (text) => (stdout += text), stderr: (text) => stderr.push(text) },
  );
  assert.equal(code, 0, stderr.join('\n'));
  const report = JSON.parse(await readFile(json, 'utf8')) as CapacityReport;
  assert.equal(report.limitedBy, 'target', stdout);
  assert.match(stdout, /<- knee/);
  const capacity = report.capacity ?? assert.fail(`no step passed\n${stdout}`);
  process.stdout.write(`# capacity ${capacity.devices} lamps, ${capacity.rps} msg/s of the broker's ${CAPACITY}\n`);
  // The last passing step carried most of what the broker serves, and none carried more.
  assert.ok(capacity.rps >= 0.6 * CAPACITY && capacity.rps <= 1.05 * CAPACITY, `capacity ${capacity.rps} msg/s against the broker's ${CAPACITY}\n${stdout}`);
  const failing = report.steps.filter((step) => !step.ok);
  assert.ok(failing.length > 0 && failing.every((step) => step.devices > capacity.devices), stdout);
  const knee = failing.reduce((first, step) => (step.devices < first.devices ? step : first));
  assert.ok(knee.failedSlos.length > 0 || knee.cause === 'target', stdout);

  // Every publish the broker received was sent, and every acked one received.
  const run = JSON.parse(await readFile(results, 'utf8')) as Results;
  const publishes = run.types.find((row) => row.type === 'PUBLISH') ?? assert.fail('no PUBLISH rows');
  const acked = publishes.requests - publishes.failures;
  const received = await publishesReceived();
  assert.ok(received >= acked && received <= publishes.requests, `the broker received ${received}; fleetsim sent ${publishes.requests}, ${acked} acked`);
  if (publishes.failures === 0) assert.equal(received, acked);
});
