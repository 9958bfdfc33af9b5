import { spawn } from 'node:child_process';
import { readFile } from 'node:fs/promises';
import path from 'node:path';
import type { Results } from '../src/metrics/results.ts';
import { compiledCli, pinned, reportFlags } from './run-pinned.ts';

/** Long enough for both processes to load and compile their profile before the shared start. */
const START_LEAD_MS = 2500;

/** What one round's pair of runs did. */
interface Pair {
  readonly first: number;
  readonly second: number;
  /** Both runs' process CPU, in % of one core: near 100 means the generator's core set the rates. */
  readonly generatorCorePercent: number;
  /** The target's CPU over the pair's active seconds: far below 100 means it did not. */
  readonly targetCorePercent: number;
}

/** A target whose CPU time can be read (bench/targets.ts). */
interface Target {
  cpuSeconds(): number;
}

/** Runs `fleetsim run` on core 0 with its JSON report in `dir`, and resolves with the results. */
async function runOnGeneratorCore(dir: string, label: string, args: readonly string[]): Promise<Results> {
  const json = path.join(dir, `${label}.json`);
  const [file, argv] = pinned(0, process.execPath, [await compiledCli(), 'run', ...args, '--json', json, '--quiet']);
  await new Promise<void>((resolve, reject) => {
    const child = spawn(file, argv, { stdio: ['ignore', 'ignore', 'pipe'] });
    let stderr = '';
    child.stderr.setEncoding('utf8').on('data', (chunk: string) => (stderr += chunk));
    child.on('close', (code) => (code === 0 ? resolve() : reject(new Error(`fleetsim ${args.join(' ')} exited ${code}: ${stderr.slice(-2000)}`))));
  });
  return JSON.parse(await readFile(json, 'utf8')) as Results;
}

/**
 * Two runs started at one instant (`--start-at`) on the generator's core: the kernel gives two
 * always-busy processes equal shares of it, and a slow second on this machine slows both alike, so
 * the ratio of their rates is the ratio of their costs per message, free of the 10–15% that
 * separates identical runs made one after the other.
 */
async function runTogether(target: Target, dir: string, label: string, args: readonly string[], withReports: boolean, round: number, rateOf: (results: Results) => number): Promise<Pair> {
  const startAt = ['--start-at', new Date(Date.now() + START_LEAD_MS).toISOString()];
  const reports = withReports ? await reportFlags(dir, `${label}-reports`) : undefined;
  // Two shards of one fleet, so no device id (an MQTT client id) is used twice; the reports go to
  // each shard in turn, should the two halves differ.
  const [plainShard, secondShard] = round % 2 === 0 ? ['0/2', '1/2'] : ['1/2', '0/2'];
  const targetBefore = target.cpuSeconds();
  const runs = Promise.all([
    runOnGeneratorCore(dir, `${label}-a`, [...args, ...startAt, '--shard', plainShard]),
    runOnGeneratorCore(dir, `${label}-b`, [...args, ...startAt, '--shard', secondShard, ...(reports?.flags ?? [])]),
  ]);
  const [first, second] = await runs.finally(() => reports?.scraper.stop());
  if (reports?.scraper.scrapes === 0) throw new Error(`${label}: the reporting run was never scraped`);
  const processPercent = (results: Results): number => results.generator.processCpuPercent ?? results.generator.cpuPercent;
  // The target also served the two start-ups and ends; over the active seconds that errs high.
  const targetCorePercent = ((target.cpuSeconds() - targetBefore) / Math.max(first.activeS, second.activeS)) * 100;
  return { first: rateOf(first), second: rateOf(second), generatorCorePercent: processPercent(first) + processPercent(second), targetCorePercent };
}

/** An HTTP run's rate: every request counts. */
export const requestRate = (results: Results): number => results.total.requests / results.activeS;

/** An MQTT flat-out run's rate: acked publishes (CONNECTs are not what it measures); a failed one stops the benchmark. */
export function publishRate(results: Results): number {
  const publish = results.stats.find((row) => row.type === 'PUBLISH');
  if (!publish || publish.failures > 0) throw new Error(`fleetsim had failures: ${JSON.stringify(results.failures)}`);
  return publish.requests / results.activeS;
}

const median = (values: readonly number[]): number => {
  const sorted = [...values].sort((a, b) => a - b);
  return ((sorted[(sorted.length - 1) >> 1] ?? 0) + (sorted[sorted.length >> 1] ?? 0)) / 2;
};
const spread = (values: readonly number[]): string => `${Math.min(...values).toFixed(3)}–${Math.max(...values).toFixed(3)}`;

/**
 * What `--csv --html --metrics-port` (scraped every second) cost the rate, measured side by side:
 * each round runs plain beside plain (the method's own noise) and plain beside the reports, and
 * prints both ratios' medians and ranges, and the verdict against the 5% budget. `args` describe the
 * whole fleet of both runs: each runs half of it, as one of two shards.
 */
export async function reportsOverhead(target: Target, dir: string, rounds: number, args: readonly string[], unit: string, rateOf: (results: Results) => number): Promise<string> {
  const calibration: number[] = [];
  const overhead: number[] = [];
  const rates: number[] = [];
  const generatorCore: number[] = [];
  const targetCore: number[] = [];
  for (let round = 0; round < rounds; round++) {
    const same = await runTogether(target, dir, `same-${round}`, args, false, round, rateOf);
    calibration.push(same.second / same.first);
    const paired = await runTogether(target, dir, `reports-${round}`, args, true, round, rateOf);
    overhead.push(paired.second / paired.first);
    rates.push(paired.first, paired.second);
    for (const pair of [same, paired]) {
      generatorCore.push(pair.generatorCorePercent);
      targetCore.push(pair.targetCorePercent);
    }
  }
  const ratio = median(overhead);
  const verdict = ratio >= 0.95 ? 'within the 5% budget' : 'OVER the 5% budget';
  return [
    `What the reports cost, side by side (two runs started together on the generator's core, ${rounds} rounds; each a shard of half the fleet at ~${median(rates).toFixed(0)} ${unit}/s on half the core):`,
    `  plain beside plain (the method's noise)          ${median(calibration).toFixed(3)}  (${spread(calibration)})`,
    `  with --csv --html --metrics-port ÷ plain         ${ratio.toFixed(3)}  (${spread(overhead)})  ${verdict}`,
    `  the generator's core ${median(generatorCore).toFixed(0)}% busy with both runs, the target's ${median(targetCore).toFixed(0)}%${median(targetCore) > 90 ? ': the target was near its limit, so the ratios understate any difference' : ''}`,
  ].join('\n');
}
