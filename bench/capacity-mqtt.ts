import { execFileSync, spawn } from 'node:child_process';
import type { ChildProcess } from 'node:child_process';
import os from 'node:os';
import { readFile } from 'node:fs/promises';
import { connectAsync } from 'mqtt';
import type { MqttClient } from 'mqtt';
import type { CapacityReport } from '../src/cli/capacity-command.ts';
import { capacityCommand } from '../src/cli/capacity-command.ts';
import type { Results } from '../src/metrics/results.ts';
import { mosquittoSkip, startMosquitto } from '../test/helpers/mosquitto.ts';
import type { MosquittoBroker } from '../test/helpers/mosquitto.ts';
import { TempDir } from '../test/helpers/temp-files.ts';

/**
 * `npm run bench:capacity-mqtt`: sizes a real Mosquitto starved on purpose (the lowest priority on
 * core 1, beside a busy loop), so its capacity is whatever sliver of the core this machine leaves
 * it; each step's acked publishes are compared with what Mosquitto counted over the same window
 * ($SYS ticks), and the whole run's exactly. It depends on the machine's speed by design, so it is
 * a benchmark; test/integration/capacity-mqtt.test.ts checks the same logic against a broker of
 * known service time.
 */

const RECEIVED = '$SYS/broker/publish/messages/received';
const twoCores = os.cpus().length >= 2;

let broker: MosquittoBroker | undefined;
let burner: ChildProcess | undefined;
let sys: MqttClient | undefined;
/** Mosquitto's own count of PUBLISHes received, as it ticks each second: [epoch ms, count]. */
const ticks: [number, number][] = [];

/** Mosquitto's count at `at`, interpolated between the ticks around it. */
function receivedAt(at: number): number {
  const after = ticks.findIndex(([time]) => time >= at);
  if (after <= 0) return (ticks[after === 0 ? 0 : ticks.length - 1] as [number, number])[1];
  const [t0, v0] = ticks[after - 1] as [number, number];
  const [t1, v1] = ticks[after] as [number, number];
  return v0 + ((v1 - v0) * (at - t0)) / (t1 - t0);
}

const skip = mosquittoSkip() || (twoCores ? false : 'needs 2 cores');
if (skip) {
  console.log(`bench:capacity-mqtt: ${skip}`);
  process.exit(0);
}
const temp = await TempDir.create();
const problems: string[] = [];
const check = (ok: boolean, what: string): void => {
  if (!ok) problems.push(what);
};
try {
  // A broker of small, known capacity: Mosquitto at the lowest priority on core 1, beside a busy
  // loop at normal priority, gets a sliver of that core; the generator keeps core 0 to itself.
  execFileSync('taskset', ['-p', '-c', '0', String(process.pid)]);
  burner = spawn('taskset', ['-c', '1', process.execPath, '-e', 'for (;;) {}'], { stdio: 'ignore' });
  broker = await startMosquitto({ nodelay: true, wrap: ['taskset', '-c', '1', 'nice', '-n', '19'] });
  sys = await connectAsync(broker.url, { reconnectPeriod: 0 }, false);
  sys.on('message', (topic, payload) => {
    if (topic === RECEIVED) ticks.push([Date.now(), Number(payload.toString())]);
  });
  await sys.subscribeAsync(RECEIVED, { qos: 0 });

  const json = temp.file('lamps.json');
  const results = temp.file('lamps-results.json');
  let stdout = '';
  const stderr: string[] = [];
  const code = await capacityCommand(
    {
      profile: 'profiles/lamp.yaml',
      broker: broker.url,
      slo: ['PUBLISH: p99 < 50ms', 'PUBLISH: timeouts < 0.1%'],
      // Small first steps, so a slower machine (a smaller sliver of core 1) still has a passing step.
      start: '10',
      step: '40',
      maxDevices: '1500',
      stepDuration: '4s',
      settle: '1s',
      spawnRate: '250',
      // Lamps wait 1-2 s after each burst's acks, so a broker starved on purpose slows their rate by
      // its answer time; the SLOs size it here, with the floor lowered to what a closed model delivers.
      minDelivered: '90%',
      json,
      results,
      quiet: true,
    },
    { stdout: (text) => (stdout += text), stderr: (text) => stderr.push(text) },
  );
  check(code === 0, `exit ${code}: ${stderr.join('\n')}`);
  const report = JSON.parse(await readFile(json, 'utf8')) as CapacityReport;
  check(report.limitedBy === 'target', `limited by ${report.limitedBy}`);
  check(report.capacity !== null && report.capacity.devices >= 10 && report.capacity.devices < 1500, 'a capacity between 10 and 1,500 lamps');
  process.stdout.write(stdout);
  const knee = report.steps.at(-1);
  check(knee !== undefined && !knee.ok && knee.failedSlos.length > 0, 'the last step failed an SLO');
  check(knee?.generator.saturatedIntervals === 0, 'the generator was healthy at the knee');

  // Each step's acked publishes are what Mosquitto counted over the same window, read off its
  // one-second $SYS ticks. A broker starved on purpose also publishes its ticks late (seconds, at
  // the lowest priority), so a tick's count is placed late in time: the bound allows four ticks'
  // worth at the edges. The whole run, below, must agree exactly.
  const startedAt = Date.parse(report.run.startedAt);
  // Only steps with enough publishes that a few late ticks are a small share of them are compared.
  const compared = report.steps.filter((step) => step.requests * (1 - step.failureRate) >= 1_000);
  check(compared.length > 0, 'at least one step carried 1,000 publishes');
  for (const step of compared) {
    const acked = Math.round(step.requests * (1 - step.failureRate));
    const [from, to] = step.windowS;
    const counted = receivedAt(startedAt + to * 1000) - receivedAt(startedAt + from * 1000);
    const perTick = acked / (to - from);
    console.log(`${step.devices} lamps: fleetsim acked ${acked}, Mosquitto counted ${counted.toFixed(0)} over the same window (${((counted / acked) * 100).toFixed(1)}%)`);
    check(Math.abs(counted - acked) <= Math.max(0.25 * acked, 4 * perTick), `${step.devices} lamps: fleetsim acked ${acked}, Mosquitto counted ${counted.toFixed(0)}`);
  }
  // Over the whole run the counts agree exactly: every publish Mosquitto received was acked,
  // unless it timed out or failed at fleetsim's end.
  const run = JSON.parse(await readFile(results, 'utf8')) as Results;
  const publishes = run.types.find((row) => row.type === 'PUBLISH');
  if (!publishes) throw new Error('no PUBLISH rows');
  const received = await broker.publishesReceived();
  const acked = publishes.requests - publishes.failures;
  console.log(`whole run: Mosquitto received ${received}; fleetsim sent ${publishes.requests}, ${acked} acked`);
  check(received >= acked && received <= publishes.requests, 'the whole run: every publish Mosquitto received was sent, every acked one received');
  if (publishes.failures === 0) check(received === acked, 'the whole run: received equals acked');
  console.log(problems.length === 0 ? 'all checks held' : `checks that failed:\n  ${problems.join('\n  ')}`);
} finally {
  await sys?.endAsync(true);
  burner?.kill('SIGKILL');
  await broker?.stop();
  await temp.remove();
}
process.exitCode = problems.length === 0 ? 0 : 1;
