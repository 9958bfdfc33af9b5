import { encodeHistogram, NO_LATENCY, summarize, summarizeOnly } from './histogram.ts';
import type { LatencyHistogram, Percentile } from './histogram.ts';
import { createHistogram } from './histogram.ts';
import type { GeneratorHealth } from './generator-monitor.ts';
import { INTERVAL_SATURATION } from './history.ts';
import type { HistoryPoint } from './history.ts';
import { failuresOf } from './failure-list.ts';
import { addCounters, zeroCounters } from './row-counters.ts';
import type { Counters } from './row-counters.ts';
import { rowTypeGroup } from './stats.ts';
import { loadVerdict } from './load-verdict.ts';
import type { LoadNoise, LoadTally, LoadVerdict } from './load-verdict.ts';
import type { SaturationSplit, StatsEntry } from './stats.ts';
import type { Results, StatsRow } from '../contracts/results.ts';
export type { StatsRow, BrokerStats, KeepaliveStats, ThresholdResult, Results, MixedAbandonCause, LifecycleSummary, DownlinkSummary, Saturation, DevicesSummary } from '../contracts/results.ts';

export interface ResultsInput {
  readonly version: string;
  readonly seed: string;
  readonly profilePath: string;
  readonly profileSha256: string;
  readonly startedAt: Date;
  readonly endedAt: Date;
  /** Ms from the start until stop began; defaults to the whole run. */
  readonly activeMs?: number;
  readonly stopReason: string;
  readonly abandoned?: number;
  readonly abandonCause?: Results['abandonCause'];
  /** The shard this process ran; the whole run when not given. */
  readonly shard?: Results['shard'];
  readonly devices: Results['devices'];
  readonly entries: readonly StatsEntry[];
  readonly history: readonly HistoryPoint[];
  readonly saturation: SaturationSplit;
  readonly generator: GeneratorHealth;
  readonly warnings: readonly string[];
  /** The delivered-share floor (`--min-delivered`); null: not checked. */
  readonly minDelivered?: number | null;
  /** How the offered count varies by chance, to tell a shortfall from counting noise. */
  readonly loadNoise?: LoadNoise;
  /** Some model waits for each answer (the advice on a target shortfall says what that means). */
  readonly closedModels?: boolean;
  /** The intervals' load judgements as they closed (RunStats.loadTally); a merge reads them off the history. */
  readonly loadTally?: LoadTally;
  /** The planned run time (`--duration`), to tell an overrun. */
  readonly plannedDurationMs?: number | undefined;
}

/** A run is said to overrun when it ends this long past its planned end. */
export const OVERRUN_TOLERANCE_MS = 2000;

const round = (value: number, digits = 3): number => Math.round(value * 10 ** digits) / 10 ** digits;

interface RowHistograms {
  readonly latency: LatencyHistogram;
  readonly failedLatency: LatencyHistogram;
  readonly intendedLatency: LatencyHistogram;
  readonly queued: LatencyHistogram;
}

/**
 * What a live view computes of each row: the answers' latency at `percentiles` (with min, mean and
 * max), nothing encoded, no failed, intended or queued summaries. Without it a row is complete.
 */
export interface LiveDetail {
  readonly percentiles: readonly Percentile[];
}

function row(type: string, name: string, counters: Counters, histograms: RowHistograms, seconds: number, live: LiveDetail | undefined): StatsRow {
  const { latency, failedLatency: failed, intendedLatency: intended, queued } = histograms;
  const base: StatsRow = {
    type,
    name,
    requests: counters.requests,
    failures: counters.failures,
    timeouts: counters.timeouts,
    rps: round(counters.requests / seconds),
    failuresPerS: round(counters.failures / seconds),
    bytesIn: counters.bytesIn,
    latencyMs: live ? summarizeOnly(latency, live.percentiles) : summarize(latency),
    failedLatencyMs: live ? NO_LATENCY : summarize(failed),
    histogram: live ? '' : encodeHistogram(latency),
    late: counters.late,
    missed: counters.missed,
    lateAcks: counters.lateAcks,
    ...(counters.qosDowngrades > 0 ? { qosDowngrades: counters.qosDowngrades } : {}),
    ...(counters.offered > 0
      ? { offered: round(counters.offered), delivered: counters.delivered, offeredRps: round(counters.offered / seconds), deliveredShare: round(counters.delivered / counters.offered, 4) }
      : {}),
    ...(counters.linkSamples > 0 ? { linkSamples: counters.linkSamples, linkAddedMs: round(counters.linkAddedMs), linkMeanMs: round(counters.linkAddedMs / counters.linkSamples) } : {}),
  };
  if (live) return base;
  return {
    ...base,
    ...(intended.totalCount > 0 ? { intendedLatencyMs: summarize(intended), intendedHistogram: encodeHistogram(intended) } : {}),
    ...(failed.totalCount > 0 ? { failedHistogram: encodeHistogram(failed) } : {}),
    ...(queued.totalCount > 0 ? { queuedMs: summarize(queued), queuedHistogram: encodeHistogram(queued) } : {}),
  };
}

/** Counters and histograms summed over several entries: the run's total, a type's, the traffic's. */
class RowSum {
  readonly latency = createHistogram();
  readonly failedLatency = createHistogram();
  readonly intendedLatency = createHistogram();
  readonly queued = createHistogram();
  readonly counters: Counters = zeroCounters();

  /** A live view's sums only the answers' latency, at a quarter of the copying. */
  constructor(private readonly live: LiveDetail | undefined) {}

  add(entry: StatsEntry): void {
    this.latency.add(entry.latency);
    if (!this.live) {
      this.failedLatency.add(entry.failedLatency);
      this.intendedLatency.add(entry.intendedLatency);
      this.queued.add(entry.queued);
    }
    addCounters(this.counters, entry);
  }

  row(type: string, name: string, seconds: number): StatsRow {
    return row(type, name, this.counters, this, seconds, this.live);
  }
}

function sumOf(entries: readonly StatsEntry[], live: LiveDetail | undefined): RowSum {
  const sum = new RowSum(live);
  for (const entry of entries) sum.add(entry);
  return sum;
}

/** Rows a bare threshold never reads: session setup, and DELIVER (the same messages again, seen by subscribers). */
const SESSION_TYPES = new Set(['CONNECT', 'SUBSCRIBE', 'DELIVER']);

/** The rows a set of entries yields over `seconds`: per (type, name), per type, the total, and which one a bare threshold reads. */
export type RowSet = Pick<Results, 'stats' | 'total' | 'types' | 'bareThresholdsRead'>;

/** With `live`, only what a live view reads is computed (see LiveDetail); the aggregates' failed, intended and queued summaries stay empty. */
export function buildRows(entries: readonly StatsEntry[], seconds: number, live?: LiveDetail): RowSet {
  const sorted = [...entries].sort((a, b) => a.name.localeCompare(b.name) || a.type.localeCompare(b.type));
  const groups = new Map<string, StatsEntry[]>();
  for (const entry of sorted) {
    const group = rowTypeGroup(entry.type);
    const members = groups.get(group);
    if (members) members.push(entry);
    else groups.set(group, [entry]);
  }
  const total = sumOf(sorted, live).row('', 'Aggregated', seconds);
  const stats = sorted.map((entry) => row(entry.type, entry.name, entry, entry, seconds, live));
  // A fleet of one type sums the same entries for its type as for the total: the same row, summed once.
  const typeRow = (group: string, members: readonly StatsEntry[]): StatsRow =>
    groups.size === 1 ? { ...total, type: group, name: `${group} Aggregated` } : sumOf(members, live).row(group, `${group} Aggregated`, seconds);
  const types = [...groups].sort(([a], [b]) => a.localeCompare(b)).map(([group, members]) => typeRow(group, members));
  const trafficGroups = [...groups.keys()].filter((group) => !SESSION_TYPES.has(group));
  let bareThresholdsRead = 'Aggregated';
  if (trafficGroups.length < groups.size && trafficGroups.length === 1) bareThresholdsRead = `${trafficGroups[0] ?? ''} Aggregated`;
  else if (trafficGroups.length < groups.size && trafficGroups.length > 1) {
    const name = trafficGroups.sort().join('+');
    const traffic = sorted.filter((entry) => !SESSION_TYPES.has(entry.type));
    types.push(sumOf(traffic, live).row(name, `${name} Aggregated`, seconds));
    bareThresholdsRead = `${name} Aggregated`;
  }
  return { stats, total, types, bareThresholdsRead };
}

export function buildResults(input: ResultsInput): Omit<Results, 'thresholds'> {
  const wallSeconds = Math.max(0.001, (input.endedAt.getTime() - input.startedAt.getTime()) / 1000);
  const seconds = input.activeMs === undefined ? wallSeconds : Math.max(0.001, Math.min(wallSeconds, input.activeMs / 1000));
  const { stats, total: totalRow, types, bareThresholdsRead } = buildRows(input.entries, seconds);
  const failures = failuresOf(input.entries);
  const load = totalRow.offered === undefined ? undefined : runLoad(input, totalRow, types, seconds);
  const overranMs = input.plannedDurationMs === undefined ? 0 : seconds * 1000 - input.plannedDurationMs;
  return {
    schema: 'fleetsim.results/v1',
    tool: { name: 'fleetsim', version: input.version },
    seed: input.seed,
    profile: { path: input.profilePath, sha256: input.profileSha256 },
    shard: input.shard ? { index: input.shard.index, count: input.shard.count } : { index: 0, count: 1 },
    startedAt: input.startedAt.toISOString(),
    endedAt: input.endedAt.toISOString(),
    durationS: round(wallSeconds),
    activeS: round(seconds),
    stopReason: input.stopReason,
    abandoned: input.abandoned ?? 0,
    abandonCause: input.abandonCause ?? 'drain timeout',
    devices: input.devices,
    stats,
    total: totalRow,
    types,
    bareThresholdsRead,
    failures,
    generator: input.generator,
    warnings: input.warnings,
    history: input.history,
    saturation: {
      limits: INTERVAL_SATURATION,
      intervals: input.saturation.intervals,
      seconds: input.saturation.seconds,
      requests: input.saturation.requests,
      latencyMs: totalRow.latencyMs,
      latencyMsExcludingSaturated: summarize(input.saturation.unsaturatedLatency),
      ...(input.saturation.intervals > 0 ? { histogramExcludingSaturated: encodeHistogram(input.saturation.unsaturatedLatency) } : {}),
    },
    ...(load ? { load } : {}),
    ...(input.plannedDurationMs !== undefined && overranMs > OVERRUN_TOLERANCE_MS ? { overran: { plannedS: round(input.plannedDurationMs / 1000), byS: round(overranMs / 1000) } } : {}),
  };
}

/** The unit the load is counted in: requests for HTTP, messages for PUBLISH, attempts for a mix. */
export function loadUnit(types: readonly StatsRow[]): string {
  const offered = types.filter((row) => row.offered !== undefined && !row.name.includes('+'));
  if (offered.length === 1 && offered[0]?.type === 'PUBLISH') return 'msg/s';
  if (offered.length === 1 && offered[0]?.type === 'HTTP') return 'req/s';
  if (offered.length === 1 && offered[0]?.type === 'COMMAND') return 'commands/s';
  return 'attempts/s';
}

function runLoad(input: ResultsInput, total: StatsRow, types: readonly StatsRow[], seconds: number): LoadVerdict {
  const queue = total.queuedMs?.mean != null && total.latencyMs.mean !== null ? { queuedMeanMs: total.queuedMs.mean, latencyMeanMs: total.latencyMs.mean } : undefined;
  return loadVerdict({
    floor: input.minDelivered ?? null,
    offered: total.offered ?? 0,
    delivered: total.delivered ?? 0,
    seconds,
    intervals: input.history,
    generator: input.generator,
    queue,
    unit: loadUnit(types),
    ...(input.loadNoise === undefined ? {} : { noise: input.loadNoise }),
    ...(input.loadTally === undefined ? {} : { tally: input.loadTally }),
    ...(input.closedModels ? { closedModels: true } : {}),
  });
}
