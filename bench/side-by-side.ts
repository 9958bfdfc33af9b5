import type { HistoryPoint } from '../src/metrics/history.ts';
import type { Results } from '../src/metrics/results.ts';
import { fleet, reportFlags, runFleetsim } from './run-pinned.ts';

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

/** How the two runs of a pair are made and measured. */
export interface Pairing {
  /**
   * `fleetsim run` arguments: with `sharded`, the whole fleet of both runs, each running one of its
   * two shards, so no device id (an MQTT client id, which a broker would take over) is used twice;
   * without, each run's own fleet (HTTP devices' ids collide nowhere).
   */
  readonly args: readonly string[];
  readonly sharded: boolean;
  /** Messages or requests, for the printout. */
  readonly unit: string;
  /** Checks a run and returns its rate, from which the pair's ratio is taken when the runs started together. */
  readonly rateOf: (results: Results) => number;
  /** What one history point counts: requests, or acked publishes. */
  readonly countOf: (point: HistoryPoint) => number;
}

/**
 * The pairing of a flat-out profile against `url`: an MQTT one (`--broker`) runs as two shards of a
 * fleet twice `devices`, so the two runs' client ids differ; an HTTP one (`--target`) runs `devices`
 * in each. Spawned at 10 devices per device-second, as the benchmarks' tables run them.
 */
export function flatOutPairing(profile: string, mqtt: boolean, devices: number, seconds: number, url: string): Pairing {
  return mqtt
    ? { args: fleet(profile, devices * 2, devices * 20, seconds, '--broker', url), sharded: true, unit: 'msg', rateOf: publishRate, countOf: publishesIn }
    : { args: fleet(profile, devices, devices * 10, seconds, '--target', url), sharded: false, unit: 'req', rateOf: requestRate, countOf: requestsIn };
}

/** What the second run of a pair adds to a plain run: its flags and whatever follows it (a scraper, a page). */
export interface Variant {
  /** Named in the printout, e.g. `with --csv --html --metrics-port`. */
  readonly label: string;
  /** Runs fleetsim on the generator's core with `args` and the variant's own flags, to its results. */
  run(dir: string, label: string, args: readonly string[]): Promise<Results>;
}

/** A build's plain run: this tree's, or another checkout's `bin/fleetsim.js`. */
export function plainOf(label: string, cli?: string): Variant {
  return { label, run: (dir, name, args) => runFleetsim(dir, name, args, cli) };
}

/** A build's run with `--csv --html --metrics-port`, its /metrics scraped every second as a busy Prometheus would. */
export function withReportsOf(label: string, cli?: string): Variant {
  return {
    label,
    async run(dir, name, args) {
      const reports = await reportFlags(dir, name);
      const results = await runFleetsim(dir, name, [...args, ...reports.flags], cli).finally(() => reports.scraper.stop());
      if (reports.scraper.scrapes === 0) throw new Error(`${name}: the reporting run was never scraped`);
      return results;
    },
  };
}

export const WITH_REPORTS = withReportsOf('with --csv --html --metrics-port');
const PLAIN = plainOf('plain');

/**
 * Two runs started at one instant (`--start-at`) on the generator's core: the kernel gives two
 * always-busy processes equal shares of it, and a slow second on this machine slows both alike, so
 * the ratio of their rates is the ratio of their costs per message, free of the 10–15% that
 * separates identical runs made one after the other.
 */
async function runTogether(target: Target, dir: string, label: string, pairing: Pairing, base: Variant, variant: Variant, round: number): Promise<Pair> {
  const { args, rateOf } = pairing;
  const startAt = ['--start-at', new Date(Date.now() + START_LEAD_MS).toISOString()];
  // Sharded, the variant goes to each shard in turn, should the two halves differ.
  const [baseShard, variantShard] = !pairing.sharded
    ? [[], []]
    : round % 2 === 0
      ? [
          ['--shard', '0/2'],
          ['--shard', '1/2'],
        ]
      : [
          ['--shard', '1/2'],
          ['--shard', '0/2'],
        ];
  const targetBefore = target.cpuSeconds();
  const [first, second] = await Promise.all([base.run(dir, `${label}-a`, [...args, ...startAt, ...baseShard]), variant.run(dir, `${label}-b`, [...args, ...startAt, ...variantShard])]);
  const processPercent = (results: Results): number => results.generator.processCpuPercent ?? results.generator.cpuPercent;
  // The target also served the two start-ups and ends; over the active seconds that errs high.
  const targetCorePercent = ((target.cpuSeconds() - targetBefore) / Math.max(first.activeS, second.activeS)) * 100;
  rateOf(first);
  rateOf(second);
  const both = overlap([first, second]);
  return {
    first: rateWithin(first, both, pairing.countOf),
    second: rateWithin(second, both, pairing.countOf),
    generatorCorePercent: processPercent(first) + processPercent(second),
    targetCorePercent,
  };
}

interface Window {
  readonly fromMs: number;
  readonly toMs: number;
}

/** The wall-clock span in which every run was applying load. */
function overlap(runs: readonly Results[]): Window {
  return {
    fromMs: Math.max(...runs.map((results) => Date.parse(results.startedAt))),
    toMs: Math.min(...runs.map((results) => Date.parse(results.startedAt) + results.activeS * 1000)),
  };
}

/** Tolerance for two processes' clocks reading the same instant: the history's timestamps are rounded to the ms. */
const EDGE_MS = 5;

/**
 * A run's rate over its whole history intervals inside `window`, so that neither run is credited
 * with a second it had the core alone (the two clocks start within a few ms, and end as their
 * drains do).
 */
function rateWithin(results: Results, window: Window, countOf: (point: HistoryPoint) => number): number {
  let count = 0;
  let seconds = 0;
  for (const point of results.history) {
    if (point.timestamp - point.intervalS * 1000 < window.fromMs - EDGE_MS || point.timestamp > window.toMs + EDGE_MS) continue;
    count += countOf(point);
    seconds += point.intervalS;
  }
  if (seconds < 2) throw new Error(`the two runs overlapped in ${seconds.toFixed(1)} s of whole intervals: too little to compare`);
  return count / seconds;
}

/** An HTTP run's rate: every request counts. */
export const requestRate = (results: Results): number => results.total.requests / results.activeS;
export const requestsIn = (point: HistoryPoint): number => point.total.requests;
export const publishesIn = (point: HistoryPoint): number => point.types.find((row) => row.type === 'PUBLISH')?.requests ?? 0;

/** An MQTT flat-out run's rate: acked publishes (CONNECTs are not what it measures); a failed one stops the benchmark. */
export function publishRate(results: Results): number {
  const publish = results.stats.find((row) => row.type === 'PUBLISH');
  if (!publish || publish.failures > 0) throw new Error(`fleetsim had failures: ${JSON.stringify(results.failures)}`);
  return publish.requests / results.activeS;
}

/** Why the ratios may not be the costs: they are while the two runs had the generator's core to themselves and the target had room. */
function coreWarning(generatorPercent: number, targetPercent: number): string {
  if (generatorPercent < 90) return ": other work took the generator's core, so the ratios mean little";
  if (targetPercent > 90) return ': the target was near its limit, so the ratios understate any difference';
  return '';
}

const median = (values: readonly number[]): number => {
  const sorted = [...values].sort((a, b) => a - b);
  return ((sorted[(sorted.length - 1) >> 1] ?? 0) + (sorted[sorted.length >> 1] ?? 0)) / 2;
};
const spread = (values: readonly number[]): string => `${Math.min(...values).toFixed(3)}–${Math.max(...values).toFixed(3)}`;

/**
 * What a variant (the reports, by default) costs the rate, measured side by side: each round runs
 * plain beside plain (the method's own noise) and plain beside the variant, and prints both ratios'
 * medians and ranges, and the verdict against the 5% budget (unless `budget` is false: a variant
 * compared for speed, not held to a cost).
 */
export async function sideBySide(target: Target, dir: string, rounds: number, pairing: Pairing, variant = WITH_REPORTS, base = PLAIN, budget = true): Promise<string> {
  const calibration: number[] = [];
  const overhead: number[] = [];
  const rates: number[] = [];
  const generatorCore: number[] = [];
  const targetCore: number[] = [];
  for (let round = 0; round < rounds; round++) {
    const same = await runTogether(target, dir, `same-${round}`, pairing, base, base, round);
    calibration.push(same.second / same.first);
    const paired = await runTogether(target, dir, `variant-${round}`, pairing, base, variant, round);
    overhead.push(paired.second / paired.first);
    rates.push(paired.first, paired.second);
    for (const pair of [same, paired]) {
      generatorCore.push(pair.generatorCorePercent);
      targetCore.push(pair.targetCorePercent);
    }
  }
  const ratio = median(overhead);
  const verdict = !budget ? '' : ratio >= 0.95 ? 'within the 5% budget' : 'OVER the 5% budget';
  const noiseLabel = `${base.label} beside ${base.label} (the method's noise)`;
  const ratioLabel = `${variant.label} ÷ ${base.label}`;
  const width = Math.max(noiseLabel.length, ratioLabel.length);
  return [
    `${variant.label} against ${base.label}, side by side (two runs started together on the generator's core, ${rounds} rounds; each at ~${median(rates).toFixed(0)} ${pairing.unit}/s on half the core):`,
    `  ${noiseLabel.padEnd(width)} ${median(calibration).toFixed(3)}  (${spread(calibration)})`,
    `  ${ratioLabel.padEnd(width)} ${ratio.toFixed(3)}  (${spread(overhead)})${verdict ? `  ${verdict}` : ''}`,
    `  the generator's core ${median(generatorCore).toFixed(0)}% busy with both runs, the target's ${median(targetCore).toFixed(0)}%${coreWarning(median(generatorCore), median(targetCore))}`,
  ].join('\n');
}
