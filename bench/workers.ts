import { spawn } from 'node:child_process';
import { mkdtemp, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { procCpuMicros } from '../src/metrics/generator-monitor.ts';
import type { Results } from '../src/metrics/results.ts';
import { compiledCli, fleet, pinned, pinningNote, run } from './run-pinned.ts';
import { startFixture } from './targets.ts';

/**
 * Two questions about `--workers`, against the fixture on its own core (the generator on the other):
 *
 * 1. Does `--workers 2` cost throughput against the same run as two `--shard i/2` processes launched
 *    by hand? iot-node-flat-out for `seconds`, each round both ways, in alternating order (A,B then
 *    B,A) so a busy minute on the shared machine weighs on both alike; per round the merged req/s
 *    over the sum of the two shards' req/s. The goal is at least 0.9×. Each way's requests per CPU
 *    second of its generator processes are printed beside: on a core shared with other work the
 *    rates follow the share each run happened to get, the cost per request does not.
 * 2. What does the parent cost? One `--workers 2` run of `aggregation` iot-nodes (5 s pacing; the
 *    HTTP pool, not a socket per device) while its own CPU (not its children's: /proc/PID/stat) is
 *    sampled: over the whole run, and over the steady part (the load's last two thirds), as a share
 *    of a core. The goal is under 5%.
 *
 * `npm run bench:workers [devices] [seconds] [rounds] [aggregation devices] [aggregation seconds]` (0 rounds: the second only)
 */
const devices = Number(process.argv[2] ?? 200);
const seconds = Number(process.argv[3] ?? 10);
const rounds = Number(process.argv[4] ?? 4);
const aggregationDevices = Number(process.argv[5] ?? 50_000);
const aggregationSeconds = Number(process.argv[6] ?? 30);
const dir = await mkdtemp(path.join(tmpdir(), 'fleetsim-workers-'));
const cli = await compiledCli();
const target = await startFixture();
const read = async (file: string): Promise<Results> => JSON.parse(await readFile(file, 'utf8')) as Results;

const median = (values: readonly number[]): number => {
  const sorted = [...values].sort((a, b) => a - b);
  const middle = sorted.length / 2;
  return sorted.length % 2 === 1 ? (sorted[Math.floor(middle)] ?? 0) : ((sorted[middle - 1] ?? 0) + (sorted[middle] ?? 0)) / 2;
};

/** Two shards started together; their req/s summed (each over its own active time, as each reports it). */
async function separateShards(label: string, args: readonly string[]): Promise<{ rps: number; parts: number[]; failures: number; perCpuS: number }> {
  const files = [0, 1].map((i) => path.join(dir, `${label}-shard${i}.json`));
  await Promise.all(files.map((json, i) => run(0, process.execPath, [cli, 'run', ...args, '--shard', `${i}/2`, '--json', json])));
  const shards = await Promise.all(files.map(read));
  const requests = shards.reduce((sum, results) => sum + results.total.requests, 0);
  const cpuS = shards.reduce((sum, results) => sum + cpuSeconds(results.generator, results.startedAt, results.endedAt), 0);
  return {
    rps: shards.reduce((sum, results) => sum + results.total.rps, 0),
    parts: shards.map((results) => results.total.rps),
    failures: shards.reduce((sum, results) => sum + results.total.failures, 0),
    perCpuS: requests / cpuS,
  };
}

/**
 * CPU seconds a shard's process used over its run, from its own report (all its threads). Requests
 * per CPU second compare the two ways even when the shared core hands out different shares.
 */
function cpuSeconds(generator: Results['generator'], startedAt: string, endedAt: string): number {
  return (((generator.processCpuPercent ?? generator.cpuPercent) / 100) * (Date.parse(endedAt) - Date.parse(startedAt))) / 1000;
}

/** The workers' requests per CPU second of theirs (the parent's share is part 2's measurement). */
function workersPerCpuS(merged: Results): number {
  const shards = (merged as Results & { shards: readonly { generator: Results['generator']; startedAt: string; endedAt: string }[] }).shards;
  return merged.total.requests / shards.reduce((sum, shard) => sum + cpuSeconds(shard.generator, shard.startedAt, shard.endedAt), 0);
}

async function workersRun(label: string, args: readonly string[]): Promise<Results> {
  const file = path.join(dir, `${label}-workers.json`);
  await run(0, process.execPath, [cli, 'run', ...args, '--workers', '2', '--json', file]);
  return read(file);
}

/** Runs `--workers 2` on core 0, sampling the parent's own CPU (µs) every 100 ms until it exits. */
async function parentCost(args: readonly string[], steadyFromS: number, steadyToS: number): Promise<{ wholePercent: number; steadyPercent: number; wallS: number; results: Results }> {
  const file = path.join(dir, 'aggregation-workers.json');
  const [command, argv] = pinned(0, process.execPath, [cli, 'run', ...args, '--workers', '2', '--json', file]);
  const started = performance.now();
  // taskset execs node in its own process: the pid is the parent's.
  const child = spawn(command, argv, { stdio: ['ignore', 'ignore', 'pipe'] });
  let stderr = '';
  child.stderr.setEncoding('utf8').on('data', (chunk: string) => (stderr += chunk));
  const samples: [number, number][] = [];
  const sampler = setInterval(() => {
    const micros = procCpuMicros(`/proc/${child.pid}/stat`);
    if (micros !== undefined) samples.push([(performance.now() - started) / 1000, micros]);
  }, 100);
  const code = await new Promise<number | null>((resolve) => child.on('close', resolve));
  clearInterval(sampler);
  const wallS = (performance.now() - started) / 1000;
  if (code !== 0) throw new Error(`--workers 2 exited ${code}: ${stderr.slice(-2000)}`);
  const at = (s: number): [number, number] => samples.find(([t]) => t >= s) ?? (samples.at(-1) as [number, number]);
  const [fromS, fromMicros] = at(steadyFromS);
  const [toS, toMicros] = at(steadyToS);
  const [, lastMicros] = samples.at(-1) as [number, number];
  return { wholePercent: (lastMicros / 1e6 / wallS) * 100, steadyPercent: ((toMicros - fromMicros) / 1e6 / (toS - fromS)) * 100, wallS, results: await read(file) };
}

console.log(`bench:workers: ${pinningNote('fixture')}; the machine is shared with other work, so rates swing: read the rounds`);
try {
  // 0 rounds: only the parent's cost (part 2).
  if (rounds > 0) {
    console.log(`1. ${devices} iot-node-flat-out devices for ${seconds} s, ${rounds} rounds, order alternating`);
    const ratios: number[] = [];
    const efficiencies: number[] = [];
    for (let round = 1; round <= rounds; round++) {
      const args = fleet('profiles/iot-node-flat-out.yaml', devices, devices, seconds, '--target', target.url, '--seed', '1', '--quiet');
      const workersFirst = round % 2 === 0;
      const first = workersFirst ? await workersRun(`r${round}`, args) : undefined;
      const shards = await separateShards(`r${round}`, args);
      const workers = first ?? (await workersRun(`r${round}`, args));
      const ratio = workers.total.rps / shards.rps;
      ratios.push(ratio);
      const efficiency = workersPerCpuS(workers) / shards.perCpuS;
      efficiencies.push(efficiency);
      const failures = workers.total.failures + shards.failures;
      console.log(
        `  round ${round} (${workersFirst ? 'workers first' : 'shards first'}): --workers 2 ${workers.total.rps.toFixed(0)} req/s, two shards ${shards.rps.toFixed(0)} req/s (${shards.parts.map((rps) => rps.toFixed(0)).join(' + ')}): ${ratio.toFixed(2)}×; per CPU second ${workersPerCpuS(workers).toFixed(0)} against ${shards.perCpuS.toFixed(0)} requests: ${efficiency.toFixed(2)}×${failures > 0 ? `, ${failures} failures` : ''}`,
      );
    }
    console.log(`  req/s: median ${median(ratios).toFixed(2)}×, range ${Math.min(...ratios).toFixed(2)}–${Math.max(...ratios).toFixed(2)} (goal ≥ 0.90×)`);
    console.log(
      `  requests per CPU second: median ${median(efficiencies).toFixed(2)}×, range ${Math.min(...efficiencies).toFixed(2)}–${Math.max(...efficiencies).toFixed(2)} (what each way costs, whatever share of the core it got)`,
    );
  }

  if (aggregationDevices > 0) {
    const spawnRate = Math.ceil(aggregationDevices / 10);
    console.log(`2. the parent's cost: ${aggregationDevices} iot-nodes (5 s pacing) in --workers 2, spawned at ${spawnRate}/s, for ${aggregationSeconds} s`);
    const args = fleet('profiles/iot-node.yaml', aggregationDevices, spawnRate, aggregationSeconds, '--target', target.url, '--seed', '1', '--quiet');
    const cost = await parentCost(args, aggregationSeconds / 3, aggregationSeconds);
    const results = cost.results;
    console.log(
      `  merged: ${results.devices.started} devices started, ${results.total.requests} requests (${results.total.rps.toFixed(0)} req/s), ${results.total.failures} failures, over ${cost.wallS.toFixed(1)} s of wall time`,
    );
    console.log(
      `  parent CPU: ${cost.steadyPercent.toFixed(2)}% of a core while the load ran (from ${(aggregationSeconds / 3).toFixed(0)} s), ${cost.wholePercent.toFixed(2)}% over the whole run, start-up and merge included up to its last 0.1 s (goal < 5%)`,
    );
  }
} finally {
  target.stop();
  await rm(dir, { recursive: true, force: true });
}
