import { spawn } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { cp, mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import type { Results } from '../src/metrics/results.ts';
import { compiledCli, pinning, runFleetsim } from './run-pinned.ts';
import { preflight, diagnose, brokerLogCounts, MemorySampler } from './sessions-resources.ts';
import type { ShardRun } from './sessions-resources.ts';
import { startMosquitto } from './targets.ts';
import type { Target } from './targets.ts';

/**
 * Many idle MQTT sessions on this machine: `npm run bench:sessions -- [sessions] [processes] [brokers] [holdS] [spawnRate] [addresses]`,
 * by default 100,000 idle lamps (keepalive 60 s, one QoS 1 publish a minute), as many fleetsim
 * processes and Mosquittos as the file limit needs (each under it, with its own `max_connections`),
 * the fleet striped over the processes as `--shard i/N` (launched together with `--start-at`), each
 * process against its own broker and every session bound to one of `addresses` loopback addresses
 * (`--local-ips`), connected at `spawnRate` per second in all and held for `holdS` seconds.
 * Reports time to all online, sessions lost, keepalive lateness, RSS per device, CPU per 1k idle
 * sessions, and when the goal is missed, which resource ran out, with the measurement.
 *
 * Shards rather than `--workers`: `run --workers` gives every worker the one broker URL, and one
 * Mosquitto holds no more sessions than its file limit (20,000 here).
 */
const fileLimit = softFileLimit();
const sessions = Number(process.argv[2] ?? 100_000);
// Each process and broker keeps ~10% of its file limit for its own files, pipes and the probe.
const perProcess = Math.floor(fileLimit * 0.9);
const processes = Number(process.argv[3] ?? 0) || Math.ceil(sessions / perProcess);
const brokers = Number(process.argv[4] ?? 0) || processes;
const holdS = Number(process.argv[5] ?? 120);
const spawnRate = Number(process.argv[6] ?? 1000);
// A socket bound to an address before it connects (--local-ips) takes its port by a search over half
// the ephemeral range (Linux leaves the other half to connect()), and that search in the bind()
// system call grows with the ports in use: at ~10,000 per address it blocked the event loop for
// seconds. Sessions are spread to ~3,000 per address (127.0.0.x has 254 of them).
const addressCount = Number(process.argv[7] ?? Math.min(254, Math.max(1, Math.ceil(sessions / 3000))));
const addresses = Array.from({ length: addressCount }, (_, i) => `127.0.0.${i + 1}`);
const dir = await mkdtemp(path.join(tmpdir(), 'fleetsim-sessions-'));
const MB = 1048576;
/** The shards' results and the brokers' logs are kept here after the run, for a closer look. */
const kept = path.join(tmpdir(), 'fleetsim-sessions-last');

function softFileLimit(): number {
  const match = /Max open files\s+(\d+)/.exec(readFileSync('/proc/self/limits', 'utf8'));
  return match ? Number(match[1]) : 1024;
}

async function profile(count: number, seconds: number): Promise<string> {
  const file = path.join(dir, `idle-lamps-${count}.yaml`);
  await writeFile(
    file,
    `kind: profile\nname: idle-lamps\nseed: 1\nfleet:\n  - device: ${path.resolve('bench/devices/idle-lamp.yaml')}\n    count: ${count}\nspawnRate: ${spawnRate}\nduration: ${seconds}s\n`,
  );
  return file;
}

/** A whole second at least `leadS` ahead, for `--start-at`. */
function startAt(leadS: number): string {
  const at = new Date(Math.ceil(Date.now() / 1000) * 1000 + leadS * 1000);
  return at.toISOString().replace(/\.\d{3}Z$/, 'Z');
}

/** One shard as its own process on the generators' core; resolves with its results and exit code. */
function shard(index: number, file: string, broker: Target, at: string, cli: string): Promise<ShardRun> {
  const json = path.join(dir, `shard-${index}.json`);
  const args = [cli, 'run', file, '--shard', `${index}/${processes}`, '--start-at', at, '--broker', broker.url, '--local-ips', addresses.join(','), '--json', json, '--quiet'];
  // Not pinned: the generators use whatever the brokers (on core 1) leave of both cores.
  const [command, argv] = [process.execPath, args];
  return new Promise((resolve) => {
    const child = spawn(command, argv, { stdio: ['ignore', 'ignore', 'pipe'] });
    let stderr = '';
    child.stderr.setEncoding('utf8').on('data', (chunk: string) => (stderr = (stderr + chunk).slice(-4000)));
    child.on('close', (code) => {
      let results: Results | undefined;
      try {
        results = JSON.parse(readFileSync(json, 'utf8')) as Results;
      } catch {
        results = undefined;
      }
      resolve({ index, code: code ?? -1, stderr, results });
    });
  });
}

const onlineS = (run: ShardRun): number | null => (run.results?.devices.timeToAllOnlineMs == null ? null : run.results.devices.timeToAllOnlineMs / 1000);

/** Main-thread CPU (% of a core) and event-loop busy share, averaged over the hold: from 5 s after all were online to 2 s before the end. */
function holdHealth(results: Results, fromS: number): { cpuPercent: number; busyPercent: number; maxBusyPercent: number } {
  const points = results.history.filter((point) => point.atS - point.intervalS >= fromS + 5 && point.atS <= results.activeS - 2);
  const mean = (pick: (value: (typeof points)[number]) => number): number => (points.length === 0 ? Number.NaN : points.reduce((sum, point) => sum + pick(point), 0) / points.length);
  return {
    cpuPercent: mean((point) => point.generator.cpuPercent ?? 0),
    busyPercent: mean((point) => point.generator.busyPercent),
    maxBusyPercent: Math.max(0, ...points.map((point) => point.generator.busyPercent)),
  };
}

/**
 * Max RSS of one process holding a small fleet of the same lamps (a tenth of a shard's, at most
 * 2,000): the shards' RSS above it, over their devices above it, is what a device costs, without the
 * process's base and its heap's fixed growth.
 */
async function baseRss(broker: Target, count: number): Promise<{ rss: number; count: number }> {
  const results = await runFleetsim(dir, 'base', [await profile(count, Math.ceil(count / spawnRate) + 8), '--broker', broker.url, '--local-ips', addresses.join(',')]);
  return { rss: results.generator.maxRssBytes, count: results.devices.online };
}

console.log(
  `bench:sessions: ${sessions} idle lamps (keepalive 60 s, one QoS 1 publish a minute), ${processes} fleetsim processes, ${brokers} Mosquittos, ${addressCount} source addresses, ${spawnRate}/s, held ${holdS} s; ${pinning ? 'brokers on core 1, generators on either core' : 'not pinned'}; results kept in ${kept}.`,
);
const problem = preflight({ sessions, processes, brokers, addresses: addressCount, fileLimit });
if (problem) {
  console.log(`Not run: ${problem}`);
  process.exit(1);
}
const perBroker = Math.ceil(sessions / brokers);
const targets: Target[] = [];
const memory = new MemorySampler();
try {
  const cli = await compiledCli();
  for (let i = 0; i < brokers; i++) {
    targets.push(await startMosquitto(dir, { name: `broker-${i}`, maxConnections: perBroker + 100, fileLimit, logFile: path.join(dir, `broker-${i}.log`) }));
  }
  const base = await baseRss(targets[0] as Target, Math.max(100, Math.min(2000, Math.floor(sessions / processes / 10))));
  const rampS = Math.ceil(sessions / spawnRate);
  const file = await profile(sessions, rampS + holdS);
  const at = startAt(10);
  const brokerCpuBefore = targets.map((target) => target.cpuSeconds());
  memory.start();
  const runs = await Promise.all(Array.from({ length: processes }, (_, i) => shard(i, file, targets[i % brokers] as Target, at, cli)));
  memory.stop();
  const logs = await Promise.all(targets.map((_, i) => readFile(path.join(dir, `broker-${i}.log`), 'utf8').catch(() => '')));
  const dropped = brokerLogCounts(logs);

  const finished = runs.filter((run) => run.results !== undefined);
  const all = finished.map((run) => run.results as Results);
  const online = all.reduce((sum, results) => sum + results.devices.online, 0);
  const connects = all.reduce((sum, results) => sum + (results.types.find((row) => row.type === 'CONNECT')?.requests ?? 0), 0);
  const connectFailures = all.reduce((sum, results) => sum + (results.types.find((row) => row.type === 'CONNECT')?.failures ?? 0), 0);
  const started = all.reduce((sum, results) => sum + results.devices.started, 0);
  const onlineTimes = runs.map(onlineS);
  const allOnlineS = onlineTimes.every((value) => value !== null) ? Math.max(...onlineTimes) : null;
  // Every CONNECT past a device's first is a reconnect: after a lost session or a failed attempt.
  const reconnects = connects - started;
  const lost = Math.max(0, sessions - online, reconnects);
  const keepalive = all.map((results) => results.keepalive);
  const lateP99 = Math.max(0, ...keepalive.map((stats) => stats?.lateP99Ms ?? 0));
  const lateMax = Math.max(0, ...keepalive.map((stats) => stats?.lateMaxMs ?? 0));
  const pings = keepalive.reduce((sum, stats) => sum + (stats?.pingsSent ?? 0), 0);
  const rss = all.reduce((sum, results) => sum + results.generator.maxRssBytes, 0);
  const perDevice = online > base.count * all.length ? (rss - base.rss * all.length) / (online - base.count * all.length) / 1024 : Number.NaN;
  const health = all.map((results, i) => holdHealth(results, onlineTimes[i] ?? results.activeS));
  const holdCpu = health.reduce((sum, value) => sum + (Number.isNaN(value.cpuPercent) ? 0 : value.cpuPercent), 0);
  const brokerCpu = targets.map((target, i) => target.cpuSeconds() - (brokerCpuBefore[i] ?? 0));
  const wallS = Math.max(0, ...all.map((results) => results.durationS));

  console.log(`  time to all online: ${allOnlineS === null ? `never (${online} of ${sessions} online at the end)` : `${allOnlineS.toFixed(1)} s (the ramp alone is ${rampS} s)`}`);
  console.log(
    `  online at the end ${online} of ${sessions}; sessions lost ${lost} (reconnect attempts ${reconnects}, CONNECT failures ${connectFailures}); brokers dropped for keepalive ${dropped.keepalive}, refused over max_connections ${dropped.maxConnections}`,
  );
  console.log(`  keepalive: checks ran late p99 ${lateP99} ms (worst process), max ${lateMax} ms; ${pings} PINGREQs`);
  console.log(
    `  RSS: ${(rss / MB).toFixed(0)} MB over ${all.length} processes; per device ${perDevice.toFixed(2)} KB (above a ${(base.rss / MB).toFixed(0)} MB process holding ${base.count}), ${(rss / Math.max(1, online) / 1024).toFixed(2)} KB with each process's base`,
  );
  console.log(
    `  fleetsim CPU over the hold: ${holdCpu.toFixed(1)}% of a core in all = ${((holdCpu / Math.max(1, online)) * 1000).toFixed(2)}% per 1k idle sessions; event loop busy ${health.map((value) => value.busyPercent.toFixed(0)).join('/')}% (max interval ${Math.max(...health.map((value) => value.maxBusyPercent)).toFixed(0)}%)`,
  );
  console.log(
    `  brokers' CPU over the run: ${brokerCpu.map((seconds) => `${((seconds / Math.max(1, wallS)) * 100).toFixed(0)}%`).join(', ')} of a core; machine memory available at the lowest ${memory.lowestAvailableMb.toFixed(0)} MB`,
  );
  for (const run of runs) {
    const results = run.results;
    if (!results) continue;
    const failures = results.failures
      .slice(0, 3)
      .map((failure) => `${failure.type} ${failure.error} x${failure.count}`)
      .join(', ');
    const generator = results.generator;
    console.log(
      `    process ${run.index}: online ${results.devices.online}/${results.devices.target}, all online ${onlineS(run) ?? '-'} s, keepalive late p99 ${results.keepalive?.lateP99Ms ?? '-'} ms; ` +
        `loop busy ${generator.eventLoopBusyPercent ?? '-'}%, lag p99 ${generator.eventLoopLagP99Ms} ms, waited for a CPU ${generator.runQueuePercent ?? '-'}%; saturated intervals ${results.saturation.intervals}; ${failures || 'no failures'}`,
    );
  }
  for (const run of runs) if (run.code !== 0) console.log(`  process ${run.index} exited ${run.code}${run.results ? '' : ' without results'}: ${run.stderr.trim().split('\n').slice(-3).join(' | ')}`);
  const verdict = diagnose({
    sessions,
    online,
    lost,
    runs,
    dropped,
    lateP99Ms: lateP99,
    maxBusyPercent: Math.max(0, ...health.map((value) => value.maxBusyPercent)),
    lowestAvailableMb: memory.lowestAvailableMb,
    perDeviceKb: perDevice,
  });
  console.log(`  goal (${sessions} online and held, 0 lost, <= 8 KB per device): ${verdict}`);
} finally {
  memory.stop();
  for (const target of targets) target.stop();
  await rm(kept, { recursive: true, force: true });
  await cp(dir, kept, { recursive: true }).catch(() => undefined);
  await rm(dir, { recursive: true, force: true });
}
