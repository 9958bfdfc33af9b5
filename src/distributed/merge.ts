import { summarizeNodes } from '../metrics/sparkplug.ts';
import { mergeCommands } from '../metrics/commands.ts';
import { FleetsimError } from '../errors.ts';
import { judgedThresholds } from '../metrics/evaluate-thresholds.ts';
import { SATURATION } from '../metrics/generator-monitor.ts';
import type { GeneratorHealth } from '../metrics/generator-monitor.ts';
import { createHistogram, restoreExtremes } from '../metrics/histogram.ts';
import { addEncoded } from '../metrics/histogram-decode.ts';
import type { LatencyHistogram, LatencySummary } from '../metrics/histogram.ts';
import { buildResults } from '../metrics/results.ts';
import { addCounters } from '../metrics/row-counters.ts';
import type { MixedAbandonCause, Results } from '../metrics/results.ts';
import { StatsEntry } from '../metrics/stats.ts';
import { parseThreshold } from '../profile/thresholds.ts';
import { toolVersion } from '../util/version.ts';
import type { HistoryTable } from './history-table.ts';
import { historyTable, mergeHistories } from './merge-history.ts';
import { mergeKeepalive, mergeLifecycles, oneBrokerObservation } from './merge-summaries.ts';

/** Shard results that cannot be merged (different runs, a duplicate, a missing shard): exit 2. */
export class MergeError extends FleetsimError {
  constructor(message: string) {
    super('FLEETSIM_MERGE', message);
    this.name = 'MergeError';
  }
}

/** One shard's results and where they came from, for messages. */
export interface ShardResults {
  readonly source: string;
  readonly results: Results;
}

/** What each shard was, kept beside the merged numbers: its own generator health above all. */
export interface ShardSummary {
  readonly index: number;
  readonly source: string;
  readonly startedAt: string;
  readonly endedAt: string;
  readonly stopReason: string;
  readonly abandoned: number;
  readonly abandonCause: Results['abandonCause'];
  readonly devices: Results['devices'];
  readonly requests: number;
  readonly failures: number;
  readonly generator: GeneratorHealth;
  readonly saturatedIntervals: number;
}

export interface MergeInfo {
  /** The shard count of the run. */
  readonly count: number;
  readonly present: readonly number[];
  readonly missing: readonly number[];
  /** Merged with shards missing (`--partial`): the numbers are those of the present shards only. */
  readonly partial: boolean;
  readonly note: string;
}

export type MergedResults = Results & { readonly merged: MergeInfo; readonly shards: readonly ShardSummary[] };

export const HISTORY_NOTE =
  "history: counts, rates and devices are summed per wall-clock second; each interval's percentiles are recomputed from the shards' merged interval histograms (exact), or are the worst shard's for a shard whose history has none. The stats rows and totals are exact, merged from the shards' histograms.";

const sameText = (a: readonly string[], b: readonly string[]): boolean => a.length === b.length && a.every((text, i) => text === b[i]);

/** A shard's results as merge keeps them while it reads the rest: all but the history, which becomes a table. */
interface KeptShard {
  readonly source: string;
  readonly results: Omit<Results, 'history'>;
  readonly history: HistoryTable;
}

/** Refuses a file that cannot be a shard of the same run as the first one. */
function checkShard({ source, results }: ShardResults, first: KeptShard | undefined): void {
  // A library caller's objects have not been through a parser that checked them: nothing is assumed.
  const unknown = results as unknown as Partial<Record<keyof Results, unknown>> | null;
  if (typeof unknown !== 'object' || unknown === null || unknown.schema !== 'fleetsim.results/v1' || !Array.isArray(unknown.stats) || !Array.isArray(unknown.history)) {
    throw new MergeError(`${source}: not a fleetsim results file (schema fleetsim.results/v1)`);
  }
  const objects = (['profile', 'shard', 'total', 'generator', 'saturation', 'devices'] as const).filter((key) => typeof unknown[key] !== 'object' || unknown[key] === null);
  const missing = [...(Array.isArray(unknown.thresholds) ? [] : ['thresholds']), ...objects];
  if (missing.length > 0) throw new MergeError(`${source}: a fleetsim.results/v1 object without ${missing.join(', ')}: merge takes what --json writes, parsed`);
  if ('merged' in results) throw new MergeError(`${source}: already a merged result; merge the shards' own results`);
  const exprs = results.thresholds.map((threshold) => threshold.expr);
  for (const expr of exprs) {
    try {
      parseThreshold(expr);
    } catch (error) {
      throw new MergeError(`${source}: thresholds: ${(error as Error).message}`);
    }
  }
  if (!first) return;
  const differs = (what: string, mine: string, theirs: string): MergeError => new MergeError(`${source}: ${what} ${mine} differs from ${first.source}'s ${theirs}: shards of one run share it`);
  if (results.profile.sha256 !== first.results.profile.sha256) throw differs('profile sha256', results.profile.sha256.slice(0, 12), first.results.profile.sha256.slice(0, 12));
  if (results.seed !== first.results.seed) throw differs('seed', results.seed, first.results.seed);
  if (results.shard.count !== first.results.shard.count) throw differs('shard count', String(results.shard.count), String(first.results.shard.count));
  const firstExprs = first.results.thresholds.map((threshold) => threshold.expr);
  if (!sameText(exprs, firstExprs)) throw differs('thresholds', `[${exprs.join('; ')}]`, `[${firstExprs.join('; ')}]`);
}

/** Refuses a shard given twice, or one missing unless `partial`; returns which are present and missing. */
function checkCoverage(inputs: readonly KeptShard[], partial: boolean): { count: number; present: number[]; missing: number[] } {
  const first = inputs[0];
  if (!first) throw new MergeError('merge: name at least one results file');
  const count = first.results.shard.count;
  const seen = new Map<number, string>();
  for (const { source, results } of inputs) {
    const other = seen.get(results.shard.index);
    if (other !== undefined) throw new MergeError(`${source}: shard ${results.shard.index}/${count} again (also ${other}); each shard once`);
    seen.set(results.shard.index, source);
  }
  const present = [...seen.keys()].sort((a, b) => a - b);
  const missing = Array.from({ length: count }, (_, i) => i).filter((i) => !seen.has(i));
  if (missing.length > 0 && !partial) {
    throw new MergeError(
      `merge: missing shard${missing.length === 1 ? '' : 's'} ${missing.map((i) => `${i}/${count}`).join(', ')} (have ${present.length} of ${count}); pass --partial to merge what there is`,
    );
  }
  return { count, present, missing };
}

/**
 * Merges shard results one at a time as they are read (`add`), keeping each one's history as a
 * table rather than as the objects parsed, then the run's results (`finish`).
 */
export class ShardMerger {
  private readonly kept: KeptShard[] = [];

  add(input: ShardResults): void {
    checkShard(input, this.kept[0]);
    const { history, ...results } = input.results;
    this.kept.push({ source: input.source, results, history: historyTable(history) });
  }

  finish(options: { readonly partial?: boolean; readonly version: string }): MergedResults {
    return mergeKept(this.kept, options);
  }
}

/**
 * Merges the results of a run's shards into the run's results: exact where histograms exist (rows,
 * per-type aggregates, total, and every percentile recomputed from the merged histograms), summed
 * counts, histories aligned by wall-clock second, each shard's generator health kept, thresholds
 * judged again on the merged rows. Pure: it reads nothing and writes nothing.
 */
export function mergeResults(inputs: readonly (Results | ShardResults)[], options: { readonly partial?: boolean; readonly version?: string } = {}): MergedResults {
  const list: readonly (Results | ShardResults)[] = inputs;
  if (!Array.isArray(inputs)) throw new MergeError(`mergeResults: expected an array of results objects (what --json writes, parsed), got ${describe(inputs)}`);
  const merger = new ShardMerger();
  for (const [i, input] of list.entries()) merger.add(asShard(input, i));
  return merger.finish({ partial: options.partial === true, version: options.version ?? toolVersion() });
}

/** `{ source, results }` as given, or a bare results object named by its place in the list. */
function asShard(input: Results | ShardResults | null | undefined, index: number): ShardResults {
  if (typeof input === 'object' && input !== null && 'results' in input && !('schema' in input)) {
    return { source: typeof input.source === 'string' ? input.source : `results[${index}]`, results: input.results };
  }
  return { source: `results[${index}]`, results: input as Results };
}

function describe(value: unknown): string {
  return value === null ? 'null' : Array.isArray(value) ? 'an array' : typeof value;
}

/** How close a generator came to saturation: its CPU or its lag, against the limits, whichever is worse. */
const strain = (health: GeneratorHealth): number => Math.max(health.cpuPercent / SATURATION.cpuPercent, health.eventLoopLagP99Ms / SATURATION.eventLoopLagP99Ms);

/** The stats rows' (type, name) entries rebuilt from every shard: counts summed, histograms merged from their encodings. */
function mergeEntries(inputs: readonly KeptShard[]): StatsEntry[] {
  const byKey = new Map<string, StatsEntry>();
  const extremes = new Map<LatencyHistogram, Extremes>();
  const entryFor = (type: string, name: string): StatsEntry => {
    const key = `${type}\u0000${name}`;
    let entry = byKey.get(key);
    if (!entry) byKey.set(key, (entry = new StatsEntry(type, name)));
    return entry;
  };
  const noteExtremes = (histogram: LatencyHistogram, summary: LatencySummary | undefined): void => {
    if (!summary || summary.min === null || summary.max === null) return;
    const seen = extremes.get(histogram);
    extremes.set(histogram, seen ? { min: Math.min(seen.min, summary.min), max: Math.max(seen.max, summary.max) } : { min: summary.min, max: summary.max });
  };
  for (const { results } of inputs) {
    for (const row of results.stats) {
      const entry = entryFor(row.type, row.name);
      addCounters(entry, row);
      addEncoded(entry.latency, row.histogram);
      noteExtremes(entry.latency, row.latencyMs);
      if (row.intendedHistogram !== undefined) {
        addEncoded(entry.intendedLatency, row.intendedHistogram);
        noteExtremes(entry.intendedLatency, row.intendedLatencyMs);
      }
      if (row.failedHistogram !== undefined) {
        addEncoded(entry.failedLatency, row.failedHistogram);
        noteExtremes(entry.failedLatency, row.failedLatencyMs);
      }
      if (row.queuedHistogram !== undefined) {
        addEncoded(entry.queued, row.queuedHistogram);
        noteExtremes(entry.queued, row.queuedMs);
      }
    }
    for (const failure of results.failures) {
      const errors = entryFor(failure.type, failure.name).errors;
      errors.set(failure.error, (errors.get(failure.error) ?? 0) + failure.count);
    }
  }
  for (const [histogram, { min, max }] of extremes) restoreExtremes(histogram, min, max);
  return [...byKey.values()];
}

interface Extremes {
  readonly min: number;
  readonly max: number;
}

function mergeKept(inputs: readonly KeptShard[], options: { readonly partial?: boolean; readonly version: string }): MergedResults {
  const { count, present, missing } = checkCoverage(inputs, options.partial === true);
  const shards = [...inputs].sort((a, b) => a.results.shard.index - b.results.shard.index);
  const first = (shards[0] as KeptShard).results;
  const startedAtMs = Math.min(...shards.map(({ results }) => Date.parse(results.startedAt)));
  const endedAtMs = Math.max(...shards.map(({ results }) => Date.parse(results.endedAt)));
  // Load ran from the first shard's start until the last one began to stop: rates divide by that.
  const activeMs = Math.max(...shards.map(({ results }) => Date.parse(results.startedAt) + results.activeS * 1000)) - startedAtMs;
  const history = mergeHistories(
    shards.map(({ history }) => history),
    startedAtMs,
  );
  const unsaturated = createHistogram();
  let unsaturatedExact = true;
  for (const { results } of shards) {
    if (results.saturation.intervals === 0) addEncoded(unsaturated, results.total.histogram);
    else if (results.saturation.histogramExcludingSaturated !== undefined) addEncoded(unsaturated, results.saturation.histogramExcludingSaturated);
    else unsaturatedExact = false;
  }
  const worst = shards.reduce((a, b) => (strain(b.results.generator) > strain(a.results.generator) ? b : a));
  const timesToOnline = shards.map(({ results }) => results.devices.timeToAllOnlineMs);
  const stopReasons = [...new Set(shards.map(({ results }) => results.stopReason))];
  // A shard that abandoned nothing has no say in what abandoned the others' attempts.
  const abandoning = shards.filter(({ results }) => results.abandoned > 0);
  const causeShards = abandoning.length > 0 ? abandoning : shards;
  const causes = [...new Set(causeShards.map(({ results }) => results.abandonCause))];
  const warnings = [
    ...(missing.length > 0
      ? [`partial merge: shard${missing.length === 1 ? '' : 's'} ${missing.map((i) => `${i}/${count}`).join(', ')} missing; these numbers are those of ${present.length} of ${count} shards`]
      : []),
    ...shards.flatMap(({ results }) => results.warnings.map((warning) => `shard ${results.shard.index}/${count}: ${warning}`)),
    ...(unsaturatedExact ? [] : ["the latency without saturated intervals is missing from a shard's results; it is left out of that figure"]),
  ];
  const partialResults = buildResults({
    version: options.version,
    seed: first.seed,
    profilePath: first.profile.path,
    profileSha256: first.profile.sha256,
    startedAt: new Date(startedAtMs),
    endedAt: new Date(endedAtMs),
    activeMs,
    stopReason: stopReasons.length === 1 ? (stopReasons[0] as string) : shards.map(({ results }) => `${results.shard.index}:${results.stopReason}`).join(' '),
    abandoned: shards.reduce((sum, { results }) => sum + results.abandoned, 0),
    abandonCause:
      causes.length === 1 ? (causes[0] as Results['abandonCause']) : (causeShards.map(({ results }) => `shard ${results.shard.index}: ${results.abandonCause}`).join('; ') as MixedAbandonCause),
    devices: {
      target: shards.reduce((sum, { results }) => sum + results.devices.target, 0),
      started: shards.reduce((sum, { results }) => sum + results.devices.started, 0),
      online: shards.reduce((sum, { results }) => sum + results.devices.online, 0),
      onlineOverTime: history.map((point) => [point.atS, point.devicesOnline] as const),
      // Every shard had its part online: when the slowest did, measured from the first start.
      timeToAllOnlineMs: timesToOnline.every((ms) => typeof ms === 'number')
        ? Math.max(...shards.map(({ results }) => Date.parse(results.startedAt) - startedAtMs + (results.devices.timeToAllOnlineMs as number)))
        : null,
    },
    entries: mergeEntries(shards),
    history,
    saturation: {
      intervals: history.filter((point) => point.saturated).length,
      seconds: Math.round(history.reduce((sum, point) => sum + (point.saturated ? point.intervalS : 0), 0) * 1000) / 1000,
      requests: shards.reduce((sum, { results }) => sum + results.saturation.requests, 0),
      unsaturatedLatency: unsaturated,
    },
    generator: worst.results.generator,
    warnings,
    // The shards share one plan: the first one's floor is the fleet's.
    minDelivered: first.load ? first.load.floor : null,
    // Judged as one process would judge the fleet: the same counting-noise allowance.
    ...(first.load?.noise === undefined ? {} : { loadNoise: first.load.noise }),
  });
  const downlinks = shards.flatMap(({ results }) => (results.downlink ? [results.downlink] : []));
  const downlink =
    downlinks.length === 0
      ? {}
      : {
          downlink: {
            received: downlinks.reduce((sum, d) => sum + d.received, 0),
            reactionsQueued: downlinks.reduce((sum, d) => sum + d.reactionsQueued, 0),
            reactionsDropped: downlinks.reduce((sum, d) => sum + d.reactionsDropped, 0),
            reactionsFailed: downlinks.reduce((sum, d) => sum + (d.reactionsFailed ?? 0), 0),
            reactionFailures: mergeReasons(downlinks.flatMap((d) => d.reactionFailures ?? [])),
          },
        };
  const sparkplugs = shards.flatMap(({ results }) => (results.sparkplug ? [results.sparkplug] : []));
  const sparkplug = sparkplugs.length === 0 ? {} : { sparkplug: summarizeNodes(sparkplugs.flatMap((summary) => summary.nodes)) };
  const commandSummaries = shards.flatMap(({ results }) => (results.commands ? [results.commands] : []));
  const commands = commandSummaries.length === 0 ? {} : { commands: mergeCommands(commandSummaries) };
  const shardResults = shards.map(({ results }) => results);
  const lifecycle = mergeLifecycles(shardResults);
  const keepalive = mergeKeepalive(shardResults);
  const broker = oneBrokerObservation(shardResults, startedAtMs, endedAtMs);
  return {
    ...partialResults,
    ...downlink,
    ...(lifecycle ? { lifecycle } : {}),
    ...(keepalive ? { keepalive } : {}),
    ...(broker ? { broker } : {}),
    ...sparkplug,
    ...commands,
    thresholds: judgedThresholds(
      partialResults,
      first.thresholds.map((threshold) => threshold.expr),
    ),
    merged: { count, present, missing, partial: missing.length > 0, note: HISTORY_NOTE },
    shards: shards.map(({ source, results }) => ({
      index: results.shard.index,
      source,
      startedAt: results.startedAt,
      endedAt: results.endedAt,
      stopReason: results.stopReason,
      abandoned: results.abandoned,
      abandonCause: results.abandonCause,
      devices: { target: results.devices.target, started: results.devices.started, online: results.devices.online },
      requests: results.total.requests,
      failures: results.total.failures,
      generator: results.generator,
      saturatedIntervals: results.saturation.intervals,
    })),
  };
}

/** Reaction failure reasons summed across shards, most frequent first. */
function mergeReasons(reasons: readonly { readonly reason: string; readonly count: number }[]): { reason: string; count: number }[] {
  const counts = new Map<string, number>();
  for (const { reason, count } of reasons) counts.set(reason, (counts.get(reason) ?? 0) + count);
  return [...counts].map(([reason, count]) => ({ reason, count })).sort((a, b) => b.count - a.count);
}
