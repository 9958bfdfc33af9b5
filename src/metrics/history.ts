import type { LatencySummary } from './histogram.ts';
import { createHistogram, encodeHistogram, restoreExtremes, summarize } from './histogram.ts';
import { addEncoded } from './histogram-decode.ts';
import type { IntervalLoad } from './load-verdict.ts';
import type { HistoryRow, HistoryPoint } from '../contracts/history.ts';
import type { IntervalHealth, SaturationLimits } from '../contracts/health.ts';
export type { IntervalHealth } from '../contracts/health.ts';
export type { CumulativeCounts, HistoryRow, HistoryPoint } from '../contracts/history.ts';

/**
 * An interval in which the generator's event loop was this busy or this late measured its own
 * delay as much as the target's: it is marked saturated, and the summary gives percentiles with
 * and without such intervals.
 */
export const INTERVAL_SATURATION = { busyPercent: 90, lagP99Ms: 50 } as const satisfies SaturationLimits;

export function isSaturated(health: IntervalHealth): boolean {
  return health.busyPercent >= INTERVAL_SATURATION.busyPercent || health.lagP99Ms >= INTERVAL_SATURATION.lagP99Ms;
}

export interface HistoryLimits {
  /** Points at full resolution kept at the recent end. */
  readonly recent: number;
  /** Points at most; past it, older points are folded pairwise. */
  readonly max: number;
}

/** 20 minutes at full resolution and at most 1,200 points, whatever the run's length. */
export const DEFAULT_HISTORY_LIMITS: HistoryLimits = { recent: 600, max: 1200 };

/**
 * The run's history, bounded: the most recent points stay at full resolution, and whenever the
 * count passes the limit the older ones are folded pairwise, so a day-long run keeps a fixed number
 * of points whose resolution coarsens with age.
 */
export class History {
  private readonly list: HistoryPoint[] = [];

  constructor(private readonly limits: HistoryLimits = DEFAULT_HISTORY_LIMITS) {
    if (limits.recent < 1 || limits.max < limits.recent + 2) throw new Error('history limits: max must exceed recent by at least 2');
  }

  get points(): readonly HistoryPoint[] {
    return this.list;
  }

  /** Forgets every point (the statistics were reset). */
  clear(): void {
    this.list.length = 0;
  }

  push(point: HistoryPoint): void {
    this.list.push(point);
    if (this.list.length > this.limits.max) this.foldOlder();
  }

  private foldOlder(): void {
    const older = this.list.length - this.limits.recent;
    const folded: HistoryPoint[] = [];
    for (let i = 0; i + 1 < older; i += 2) folded.push(foldPoints(this.list[i] as HistoryPoint, this.list[i + 1] as HistoryPoint));
    if (older % 2 === 1) folded.push(this.list[older - 1] as HistoryPoint);
    this.list.splice(0, older, ...folded);
  }
}

/**
 * Two consecutive points of one run as one interval: counts add and rates are the summed counts over
 * the summed interval. The history folds its older points so; merge folds a shard's two points that
 * end in the same wall-clock second so.
 */
export function foldPoints(a: HistoryPoint, b: HistoryPoint): HistoryPoint {
  const intervalS = round3(a.intervalS + b.intervalS);
  const weight = (x: number, y: number): number => round1((x * a.intervalS + y * b.intervalS) / (a.intervalS + b.intervalS));
  const generator: IntervalHealth = {
    busyPercent: weight(a.generator.busyPercent, b.generator.busyPercent),
    lagP99Ms: Math.max(a.generator.lagP99Ms, b.generator.lagP99Ms),
    ...(a.generator.cpuPercent !== undefined && b.generator.cpuPercent !== undefined ? { cpuPercent: weight(a.generator.cpuPercent, b.generator.cpuPercent) } : {}),
  };
  return {
    atS: b.atS,
    timestamp: b.timestamp,
    intervalS,
    folded: a.folded + b.folded,
    devicesOnline: b.devicesOnline,
    devicesTarget: b.devicesTarget,
    ...(b.devicesPlanned === undefined ? {} : { devicesPlanned: b.devicesPlanned }),
    generator,
    saturated: a.saturated || b.saturated,
    total: foldRows(a.total, b.total, intervalS),
    types: foldRowLists(a.types, b.types, intervalS),
    rows: foldRowLists(a.rows, b.rows, intervalS),
    ...foldLoad(a, b, intervalS),
    ...(b.recent ? { recent: b.recent } : {}),
  };
}

/** Two intervals' load as one: rates over the joint interval, the later window's share, and a shortfall over a delivered one. */
function foldLoad(a: HistoryPoint, b: HistoryPoint, intervalS: number): { load?: IntervalLoad } {
  if (!a.load || !b.load) return b.load ? { load: b.load } : a.load ? { load: a.load } : {};
  const weighted = (x: number, y: number): number => round3((x * a.intervalS + y * b.intervalS) / intervalS);
  const cause = b.load.cause !== 'delivered' && b.load.cause !== null ? b.load.cause : a.load.cause !== 'delivered' && a.load.cause !== null ? a.load.cause : b.load.cause;
  return { load: { ...b.load, offeredRps: weighted(a.load.offeredRps, b.load.offeredRps), deliveredRps: weighted(a.load.deliveredRps, b.load.deliveredRps), cause } };
}

/** A row in only one of the two points (a results file need not list every row in every point) is kept, its rates over both. */
function foldRowLists(a: readonly HistoryRow[], b: readonly HistoryRow[], intervalS: number): HistoryRow[] {
  const key = (row: HistoryRow): string => `${row.type} ${row.name}`;
  const earlier = new Map(a.map((row) => [key(row), row]));
  const later = new Set(b.map(key));
  const alone = (row: HistoryRow): HistoryRow => ({
    ...row,
    rps: round3(row.requests / intervalS),
    failuresPerS: round3(row.failures / intervalS),
    ...(row.offered === undefined ? {} : { offeredRps: round3(row.offered / intervalS), deliveredRps: round3((row.delivered ?? 0) / intervalS) }),
  });
  return [
    ...b.map((row) => {
      const before = earlier.get(key(row));
      return before ? foldRows(before, row, intervalS) : alone(row);
    }),
    ...a.filter((row) => !later.has(key(row))).map(alone),
  ];
}

function foldRows(a: HistoryRow, b: HistoryRow, intervalS: number): HistoryRow {
  const requests = a.requests + b.requests;
  const failures = a.failures + b.failures;
  const offered = a.offered === undefined && b.offered === undefined ? undefined : (a.offered ?? 0) + (b.offered ?? 0);
  const delivered = (a.delivered ?? 0) + (b.delivered ?? 0);
  return {
    ...(offered === undefined ? {} : { offered: round3(offered), delivered, offeredRps: round3(offered / intervalS), deliveredRps: round3(delivered / intervalS) }),
    type: b.type,
    name: b.name,
    requests,
    failures,
    timeouts: a.timeouts + b.timeouts,
    rps: round3(requests / intervalS),
    failuresPerS: round3(failures / intervalS),
    ...foldHistograms(a, b),
    cumulative: b.cumulative,
  };
}

/** Two intervals' latency: exact from their histograms when both rows have theirs (or one finished nothing), else the worse of each percentile. */
function foldHistograms(a: HistoryRow, b: HistoryRow): Pick<HistoryRow, 'latencyMs' | 'histogram'> {
  const hasOwn = (row: HistoryRow): boolean => row.histogram !== undefined || row.latencyMs.max === null;
  if (!hasOwn(a) || !hasOwn(b) || (a.histogram === undefined && b.histogram === undefined)) return { latencyMs: foldLatency(a.latencyMs, a.requests, b.latencyMs, b.requests) };
  if (a.histogram === undefined || b.histogram === undefined)
    return a.histogram === undefined ? { latencyMs: b.latencyMs, histogram: b.histogram as string } : { latencyMs: a.latencyMs, histogram: a.histogram };
  const joined = createHistogram();
  addEncoded(joined, a.histogram);
  addEncoded(joined, b.histogram);
  // Decoding rounds the extremes to their buckets; the rows' own are exact.
  restoreExtremes(joined, Math.min(a.latencyMs.min ?? Infinity, b.latencyMs.min ?? Infinity), Math.max(a.latencyMs.max ?? 0, b.latencyMs.max ?? 0));
  return { latencyMs: summarize(joined), histogram: encodeHistogram(joined) };
}

/** Percentiles of two intervals cannot be merged exactly without their histograms: take the worse. */
function foldLatency(a: LatencySummary, aCount: number, b: LatencySummary, bCount: number): LatencySummary {
  if (a.max === null) return b;
  if (b.max === null) return a;
  const out = {} as Record<keyof LatencySummary, number | null>;
  for (const key of Object.keys(a) as (keyof LatencySummary)[]) {
    const x = a[key] as number;
    const y = b[key] as number;
    out[key] = key === 'min' ? Math.min(x, y) : key === 'mean' ? round3((x * aCount + y * bCount) / (aCount + bCount)) : Math.max(x, y);
  }
  return out;
}

const round3 = (value: number): number => Math.round(value * 1000) / 1000;
const round1 = (value: number): number => Math.round(value * 10) / 10;
