import { createReadStream } from 'node:fs';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { createInterface } from 'node:readline';
import type { Results, StatsRow } from '../src/metrics/results.ts';
import { fleet, pinningNote, runFleetsim } from './run-pinned.ts';
import { nginxInstalled, startFixture, startMosquitto, startNginx } from './targets.ts';
import type { Target } from './targets.ts';

/**
 * Large fleets in one process, each against a target on the other core:
 * `npm run bench:scale [lamps|sensors|http|memory|all]`.
 *   lamps    the seed's 1,000 lamps (bursts of 10, 1-2 s think) against Mosquitto: steady msg/s against the offered rate
 *   sensors  10,000 mqtt-sensors against Mosquitto (and the fixture for their HTTP greet): all online, timeouts, RSS
 *   http     50,000 iot-nodes (5 s pacing, 10k req/s) against nginx: p99 and RSS
 *   coldstart 50,000 iot-nodes spawned at 5,000/s against nginx: what the cold first seconds do to
 *            the percentiles, and how the saturated intervals the results mark account for it
 *   memory   idle HTTP and MQTT devices, and paced HTTP devices (10k -> 50k), at two fleet sizes: RSS per device from the difference
 */
const part = process.argv[2] ?? 'all';
const parts = ['lamps', 'sensors', 'http', 'coldstart', 'memory'];
if (part !== 'all' && !parts.includes(part)) throw new Error(`usage: bench/scale.ts [${parts.join('|')}|all]`);
const wanted = (name: string): boolean => part === 'all' || part === name;
const dir = await mkdtemp(path.join(tmpdir(), 'fleetsim-scale-'));
const MB = 1048576;

const row = (results: Results, type: string): StatsRow | undefined => results.stats.find((stats) => stats.type === type);
const mb = (bytes: number): string => `${(bytes / MB).toFixed(0)} MB`;
const cpu = (results: Results): string =>
  `main thread ${results.generator.cpuPercent.toFixed(0)}% of a core, process ${(results.generator.processCpuPercent ?? results.generator.cpuPercent).toFixed(0)}%`;
const timeouts = (results: Results): number => results.stats.reduce((sum, stats) => sum + stats.timeouts, 0);

async function withTarget<T>(start: () => Promise<Target>, body: (target: Target) => Promise<T>): Promise<T> {
  const target = await start();
  try {
    return await body(target);
  } finally {
    target.stop();
  }
}

/** PUBLISH attempts per second that started inside [fromS, toS), from the request log. */
async function publishRate(logFile: string, fromS: number, toS: number): Promise<number> {
  let count = 0;
  const lines = createInterface({ input: createReadStream(logFile, 'utf8'), crlfDelay: Infinity });
  for await (const line of lines) {
    const record = JSON.parse(line) as { type: string; intendedAtMs: number };
    const atS = record.intendedAtMs / 1000;
    if (record.type === 'PUBLISH' && atS >= fromS && atS < toS) count++;
  }
  return count / (toS - fromS);
}

async function lamps(): Promise<void> {
  const devices = 1000;
  const spawnRate = 100;
  const seconds = 40;
  await withTarget(
    () => startMosquitto(dir),
    async (broker) => {
      const log = path.join(dir, 'lamps.ndjson');
      const results = await runFleetsim(dir, 'lamps', fleet('profiles/lamp.yaml', devices, spawnRate, seconds, '--broker', broker.url, '--log-requests', log));
      const publish = row(results, 'PUBLISH');
      // Every lamp is up 10 s in; the steady window starts 2 s after that and ends 1 s before stop.
      const fromS = devices / spawnRate + 2;
      const toS = results.activeS - 1;
      const rate = await publishRate(log, fromS, toS);
      // A lamp sends 10 publishes, then thinks 1-2 s (1.5 s on average): 10 / 1.5 per lamp per second.
      const offered = (devices * 10) / 1.5;
      console.log(`lamps: ${devices} seed lamps (bursts of 10, 1-2 s think) at ${spawnRate}/s for ${seconds} s against Mosquitto`);
      console.log(
        `  steady ${rate.toFixed(0)} msg/s from ${fromS.toFixed(0)} s to ${toS.toFixed(0)} s = ${((rate / offered) * 100).toFixed(1)}% of the offered ${offered.toFixed(0)} msg/s (target >= 90%)`,
      );
      console.log(
        `  ${publish?.requests ?? 0} publishes, ${publish?.failures ?? 0} failures, ${publish?.timeouts ?? 0} ack timeouts (target 0), p99 ${publish?.latencyMs.p99 ?? '-'} ms; ${cpu(results)}; RSS ${mb(results.generator.maxRssBytes)}`,
      );
      console.log(`  ${deliveredLine(results)}`);
    },
  );
}

async function sensors(): Promise<void> {
  const devices = 10_000;
  const spawnRate = 1000;
  const seconds = 45;
  await withTarget(startFixture, (fixture) =>
    withTarget(
      () => startMosquitto(dir),
      async (broker) => {
        const results = await runFleetsim(dir, 'sensors', fleet('profiles/mqtt-sensor.yaml', devices, spawnRate, seconds, '--broker', broker.url, '--target', fixture.url));
        const connect = row(results, 'CONNECT');
        console.log(`sensors: ${devices} mqtt-sensors at ${spawnRate}/s for ${seconds} s against Mosquitto, greeting the fixture over HTTP`);
        console.log(`  online at the end ${results.devices.online} of ${devices}; CONNECT ${connect?.requests ?? 0} (${connect?.failures ?? 0} failed, p99 ${connect?.latencyMs.p99 ?? '-'} ms)`);
        console.log(
          `  ${results.total.requests} attempts, ${results.total.failures} failures, ${timeouts(results)} timeouts (target 0); ${cpu(results)}; RSS ${mb(results.generator.maxRssBytes)} (target <= 350 MB)`,
        );
      },
    ),
  );
}

async function http(): Promise<void> {
  if (!nginxInstalled) {
    console.log('http: nginx not found (apt-get install nginx-light): left out.');
    return;
  }
  const devices = 50_000;
  // 20 s of ramp. At 5000/s the first half second (10k req/s from a cold process: JIT, llhttp,
  // 50 new connections) queues up to ~150 ms inside the generator, which alone moves the p99.
  const spawnRate = 2500;
  const seconds = 60;
  await withTarget(
    () => startNginx(dir),
    async (nginx) => {
      const results = await runFleetsim(dir, 'iot-nodes', fleet('profiles/iot-node.yaml', devices, spawnRate, seconds, '--target', nginx.url));
      const total = results.total;
      console.log(`http: ${devices} iot-nodes (5 s pacing) at ${spawnRate}/s for ${seconds} s against nginx (one worker)`);
      console.log(`  ${total.requests} requests, ${total.rps.toFixed(0)} req/s over the run (10k/s once all are up), ${total.failures} failures, ${total.timeouts} timeouts`);
      console.log(
        `  p50 ${total.latencyMs.p50} ms, p99 ${total.latencyMs.p99} ms (target <= 20 ms), from the intended start p99 ${total.intendedLatencyMs?.p99 ?? '-'} ms, late starts ${total.late}; ${cpu(results)}; RSS ${mb(results.generator.maxRssBytes)}`,
      );
      console.log(`  ${deliveredLine(results)}`);
      for (const stats of results.stats)
        console.log(
          `    ${`${stats.type} ${stats.name}`.padEnd(14)} ${String(stats.requests).padStart(7)} requests  p50 ${stats.latencyMs.p50} ms  p99 ${stats.latencyMs.p99} ms  max ${stats.latencyMs.max} ms`,
        );
    },
  );
}

async function coldStart(): Promise<void> {
  if (!nginxInstalled) {
    console.log('coldstart: nginx not found (apt-get install nginx-light): left out.');
    return;
  }
  const devices = 50_000;
  const spawnRate = 5000;
  const seconds = 20;
  await withTarget(
    () => startNginx(dir),
    async (nginx) => {
      const results = await runFleetsim(dir, 'coldstart', fleet('profiles/iot-node.yaml', devices, spawnRate, seconds, '--target', nginx.url));
      const { total, saturation, history } = results;
      console.log(`coldstart: ${devices} iot-nodes at ${spawnRate}/s for ${seconds} s against nginx (one worker)`);
      console.log(`  ${total.requests} requests, ${total.failures} failures; the whole run's p50/p99 ${total.latencyMs.p50}/${total.latencyMs.p99} ms`);
      const share = total.requests === 0 ? 0 : (saturation.requests / total.requests) * 100;
      console.log(
        `  saturated intervals: ${saturation.intervals} (${saturation.requests} requests, ${share.toFixed(1)}%); p50/p99 without them ${saturation.latencyMsExcludingSaturated.p50}/${saturation.latencyMsExcludingSaturated.p99} ms`,
      );
      for (const point of history.slice(0, 4)) {
        console.log(
          `  second ${point.atS.toFixed(0)}: ${point.total.requests} requests, p50/p99 ${point.total.latencyMs.p50}/${point.total.latencyMs.p99} ms, event loop ${point.generator.busyPercent}% busy, lag p99 ${point.generator.lagP99Ms} ms${point.saturated ? ', saturated' : ''}`,
        );
      }
      const later = history.slice(4).map((point) => point.total.latencyMs.p99 ?? 0);
      if (later.length > 0) console.log(`  later seconds: p99 ${Math.min(...later)}–${Math.max(...later)} ms`);
    },
  );
}

/** A profile of `count` devices of a bench device model: all spawned, then held 5 s at rest. */
async function idleProfile(device: string, count: number): Promise<string> {
  const spawnRate = 2000;
  const file = path.join(dir, `${device}-${count}.yaml`);
  const model = path.resolve('bench/devices', `${device}.yaml`);
  await writeFile(
    file,
    `kind: profile\nname: ${device}-${count}\nseed: 1\nfleet:\n  - device: ${model}\n    count: ${count}\nspawnRate: ${spawnRate}\nduration: ${Math.ceil(count / spawnRate) + 5}s\nhttp:\n  connections: 50\n`,
  );
  return file;
}

/**
 * Max RSS of a fleet at two sizes, each run from `argsAt(count)`: their difference over the
 * difference in devices is what one device costs, without the process's base.
 */
async function perDevice(label: string, name: string, [small, large]: readonly [number, number], argsAt: (count: number) => Promise<readonly string[]>): Promise<void> {
  const rssAt = async (count: number): Promise<Results> => runFleetsim(dir, `${name}-${count}`, await argsAt(count));
  const a = await rssAt(small);
  const b = await rssAt(large);
  if (a.devices.online !== small || b.devices.online !== large) console.log(`  (online: ${a.devices.online}/${small}, ${b.devices.online}/${large})`);
  if (a.total.failures + b.total.failures > 0) console.log(`  (failures: ${a.total.failures} at ${small}, ${b.total.failures} at ${large})`);
  const sized = (count: number, results: Results): string => `${count} devices ${mb(results.generator.maxRssBytes)}${results.total.rps >= 1 ? ` (${results.total.rps.toFixed(0)}/s)` : ''}`;
  const kb = (b.generator.maxRssBytes - a.generator.maxRssBytes) / (large - small) / 1024;
  console.log(`  ${label}: ${sized(small, a)}, ${sized(large, b)}: ${kb.toFixed(2)} KB per device`);
}

/** Idle devices of a bench model; paced iot-nodes (a request every 5 s each) cost what a device holds while it sends: its exchange, template values and timers. */
const idleAt = (device: string, endpoint: readonly string[]) => async (count: number) => [await idleProfile(device, count), ...endpoint];
const pacedAt = (endpoint: readonly string[]) => (count: number) => Promise.resolve(fleet('profiles/iot-node.yaml', count, 2500, Math.ceil(count / 2500) + 20, ...endpoint));

async function memory(): Promise<void> {
  console.log('memory: devices at two fleet sizes; per device = difference in max RSS / difference in devices');
  await withTarget(
    () => (nginxInstalled ? startNginx(dir) : startFixture()),
    async (server) => {
      await perDevice('HTTP, idle', 'idle-http', [5_000, 50_000], idleAt('idle-http', ['--target', server.url]));
      await perDevice('HTTP, paced (5 s)', 'paced-http', [10_000, 50_000], pacedAt(['--target', server.url]));
    },
  );
  await withTarget(
    () => startMosquitto(dir),
    (broker) => perDevice('MQTT (each device with its session up)', 'idle-mqtt', [1_000, 10_000], idleAt('idle-mqtt', ['--broker', broker.url])),
  );
}

try {
  console.log(`fleetsim scale, ${pinningNote()}.`);
  if (wanted('lamps')) await lamps();
  if (wanted('sensors')) await sensors();
  if (wanted('http')) await http();
  if (wanted('coldstart')) await coldStart();
  if (wanted('memory')) await memory();
} finally {
  await rm(dir, { recursive: true, force: true });
}

/** The run's own verdict on its load: what it meant to offer, what it delivered, and whose limit any shortfall was. */
function deliveredLine(results: Results): string {
  const load = results.load;
  if (!load || load.deliveredShare === null) return 'delivered share: no offered load to hold the run to';
  const overran = results.overran ? `; overran by ${results.overran.byS} s` : '';
  return `delivered ${(load.deliveredShare * 100).toFixed(1)}% of the offered ${load.offeredRps.toFixed(0)}/s (${load.deliveredRps.toFixed(0)}/s), ${load.cause}${overran}; waited for a CPU ${load.host.runQueuePercent ?? '-'}% of the run, other processes ${load.host.otherCpuPercent ?? '-'}% of the machine`;
}
