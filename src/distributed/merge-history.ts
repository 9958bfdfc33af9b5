import { PERCENTILES } from '../metrics/histogram.ts';
import type { LatencySummary } from '../metrics/histogram.ts';
import type { CumulativeCounts, HistoryPoint, HistoryRow, IntervalHealth } from '../metrics/history.ts';

/**
 * Shards' histories aligned by wall-clock interval: points whose `timestamp` rounds to the same
 * second are one interval of the run. Counts, rates and devices add up; a point holds percentile
 * summaries, not histograms, so each interval's percentiles are the worst shard's (the rows and
 * totals of the merged results are exact: they come from the shards' histograms).
 */
export function mergeHistories(histories: readonly (readonly HistoryPoint[])[], startedAtMs: number): HistoryPoint[] {
  const bySecond = new Map<number, (HistoryPoint | undefined)[]>();
  histories.forEach((points, shard) => {
    for (const point of points) {
      const second = Math.round(point.timestamp / 1000);
      let slot = bySecond.get(second);
      if (!slot) bySecond.set(second, (slot = new Array<HistoryPoint | undefined>(histories.length)));
      const earlier = slot[shard];
      // Timer jitter can put two of a shard's points in one second: the pair is one interval there.
      slot[shard] = earlier ? foldShardPoints(earlier, point) : point;
    }
  });
  const lastOf = histories.map((points) => Math.round((points.at(-1)?.timestamp ?? 0) / 1000));
  const carried = histories.map(() => new Map<string, HistoryRow>());
  const devices = histories.map(() => ({ online: 0, target: 0 }));
  const merged: HistoryPoint[] = [];
  for (const second of [...bySecond.keys()].sort((a, b) => a - b)) {
    const slot = bySecond.get(second) as (HistoryPoint | undefined)[];
    const present = slot.filter((point): point is HistoryPoint => point !== undefined);
    slot.forEach((point, shard) => {
      if (point) devices[shard] = { online: point.devicesOnline, target: point.devicesTarget };
      // A shard with a gap (no point this second) still has its devices; one that has ended has none.
      else if (second > (lastOf[shard] ?? 0)) devices[shard] = { online: 0, target: 0 };
    });
    merged.push({
      atS: Math.round(second * 1000 - startedAtMs) / 1000,
      timestamp: second * 1000,
      intervalS: Math.max(...present.map((point) => point.intervalS)),
      folded: Math.max(...present.map((point) => point.folded)),
      devicesOnline: devices.reduce((sum, d) => sum + d.online, 0),
      devicesTarget: devices.reduce((sum, d) => sum + d.target, 0),
      generator: worstHealth(present.map((point) => point.generator)),
      saturated: present.some((point) => point.saturated),
      ...mergeRows(slot, carried),
    });
  }
  return merged;
}

/** Two points of one shard that fall in the same second: counts add, percentiles the worse. */
function foldShardPoints(a: HistoryPoint, b: HistoryPoint): HistoryPoint {
  const fold = (x: readonly HistoryRow[], y: readonly HistoryRow[]): HistoryRow[] => {
    const byKey = new Map(x.map((row) => [`${row.type} ${row.name}`, row]));
    for (const row of y) {
      const key = `${row.type} ${row.name}`;
      const before = byKey.get(key);
      byKey.set(key, before ? addRows([before, row], [row.cumulative]) : row);
    }
    return [...byKey.values()];
  };
  return {
    ...b,
    intervalS: Math.round((a.intervalS + b.intervalS) * 1000) / 1000,
    generator: worstHealth([a.generator, b.generator]),
    saturated: a.saturated || b.saturated,
    total: addRows([a.total, b.total], [b.total.cumulative]),
    types: fold(a.types, b.types),
    rows: fold(a.rows, b.rows),
  };
}

function worstHealth(healths: readonly IntervalHealth[]): IntervalHealth {
  const cpu = healths.map((health) => health.cpuPercent);
  return {
    busyPercent: Math.max(...healths.map((health) => health.busyPercent)),
    lagP99Ms: Math.max(...healths.map((health) => health.lagP99Ms)),
    ...(cpu.every((value) => value !== undefined) ? { cpuPercent: Math.max(...cpu) } : {}),
  };
}

const TOTAL = '\u0000total';

/** One interval's total, type and (type, name) rows across the shards present, with every shard's run-so-far counts. */
function mergeRows(slot: readonly (HistoryPoint | undefined)[], carried: Map<string, HistoryRow>[]): Pick<HistoryPoint, 'total' | 'types' | 'rows'> {
  const interval = new Map<string, RowSum>();
  const note = (key: string, row: HistoryRow, shard: number): void => {
    let sum = interval.get(key);
    if (!sum) interval.set(key, (sum = new RowSum(row)));
    sum.add(row);
    (carried[shard] as Map<string, HistoryRow>).set(key, row);
  };
  for (let shard = 0; shard < slot.length; shard++) {
    const point = slot[shard];
    if (!point) continue;
    note(TOTAL, point.total, shard);
    for (const row of point.types) note(`T${row.type}`, row, shard);
    for (const row of point.rows) note(`R${row.type}\u0000${row.name}`, row, shard);
  }
  // Every shard's latest run-so-far counts per row, including rows that ran nothing this interval.
  const totals = new Map<string, CumulativeSum>();
  for (const rowsSoFar of carried) {
    for (const [key, row] of rowsSoFar) {
      let sum = totals.get(key);
      if (!sum) totals.set(key, (sum = new CumulativeSum(row)));
      sum.add(row.cumulative);
    }
  }
  const types: HistoryRow[] = [];
  const rows: HistoryRow[] = [];
  let total = EMPTY_TOTAL;
  for (const [key, cumulative] of totals) {
    const row = (interval.get(key) ?? new RowSum(cumulative.first)).row(cumulative.counts());
    if (key === TOTAL) total = row;
    else (key.startsWith('T') ? types : rows).push(row);
  }
  const order = (a: HistoryRow, b: HistoryRow): number => a.name.localeCompare(b.name) || a.type.localeCompare(b.type);
  return { total, types: types.sort(order), rows: rows.sort(order) };
}

const EMPTY_LATENCY: LatencySummary = { min: null, mean: null, max: null, p50: null, p66: null, p75: null, p80: null, p90: null, p95: null, p98: null, p99: null, p999: null, p9999: null };

const EMPTY_TOTAL: HistoryRow = {
  type: '',
  name: 'Aggregated',
  requests: 0,
  failures: 0,
  timeouts: 0,
  rps: 0,
  failuresPerS: 0,
  latencyMs: EMPTY_LATENCY,
  cumulative: { requests: 0, failures: 0, bytesIn: 0, latencyMs: { p50: null, mean: null, min: null, max: null } },
};

const round3 = (value: number): number => Math.round(value * 1000) / 1000;

/** The summary fields a worst-of takes the largest of (every one but min and mean). */
const WORST_KEYS = ['max', ...PERCENTILES.map(([key]) => key)] as const;

/** One row of one interval over the shards that have it: counts and rates add, percentiles the worst, the mean weighted. */
class RowSum {
  private requests = 0;
  private failures = 0;
  private timeouts = 0;
  private rps = 0;
  private failuresPerS = 0;
  private sampled = 0;
  private weightedMean = 0;
  private min = Infinity;
  private readonly worst = new Float64Array(WORST_KEYS.length);

  constructor(private readonly first: HistoryRow) {}

  add(row: HistoryRow): void {
    this.requests += row.requests;
    this.failures += row.failures;
    this.timeouts += row.timeouts;
    this.rps += row.rps;
    this.failuresPerS += row.failuresPerS;
    const latency = row.latencyMs;
    if (latency.max === null) return;
    this.sampled += row.requests;
    this.weightedMean += (latency.mean ?? 0) * row.requests;
    this.min = Math.min(this.min, latency.min ?? Infinity);
    for (let i = 0; i < WORST_KEYS.length; i++) this.worst[i] = Math.max(this.worst[i] as number, latency[WORST_KEYS[i] as (typeof WORST_KEYS)[number]] ?? 0);
  }

  private latency(): LatencySummary {
    if (this.sampled === 0) return EMPTY_LATENCY;
    const out = { min: this.min, mean: round3(this.weightedMean / this.sampled) } as Record<keyof LatencySummary, number>;
    for (let i = 0; i < WORST_KEYS.length; i++) out[WORST_KEYS[i] as (typeof WORST_KEYS)[number]] = this.worst[i] as number;
    return out;
  }

  row(cumulative: CumulativeCounts): HistoryRow {
    return {
      type: this.first.type,
      name: this.first.name,
      requests: this.requests,
      failures: this.failures,
      timeouts: this.timeouts,
      rps: round3(this.rps),
      failuresPerS: round3(this.failuresPerS),
      latencyMs: this.latency(),
      cumulative,
    };
  }
}

/** The run-so-far counts of one row summed over the shards; its latency figures the worst shard's, the mean weighted. */
class CumulativeSum {
  private requests = 0;
  private failures = 0;
  private bytesIn = 0;
  private weightedMean = 0;
  private p50: number | null = null;
  private min: number | null = null;
  private max: number | null = null;

  constructor(readonly first: HistoryRow) {}

  add(part: CumulativeCounts): void {
    this.requests += part.requests;
    this.failures += part.failures;
    this.bytesIn += part.bytesIn;
    const latency = part.latencyMs;
    this.weightedMean += (latency.mean ?? 0) * part.requests;
    if (latency.p50 !== null) this.p50 = this.p50 === null ? latency.p50 : Math.max(this.p50, latency.p50);
    if (latency.min !== null) this.min = this.min === null ? latency.min : Math.min(this.min, latency.min);
    if (latency.max !== null) this.max = this.max === null ? latency.max : Math.max(this.max, latency.max);
  }

  counts(): CumulativeCounts {
    return {
      requests: this.requests,
      failures: this.failures,
      bytesIn: this.bytesIn,
      latencyMs: { p50: this.p50, mean: this.requests === 0 || this.min === null ? null : round3(this.weightedMean / this.requests), min: this.min, max: this.max },
    };
  }
}

/** Two points' rows of one shard in one second, as one interval (fold). */
function addRows(rows: readonly HistoryRow[], cumulative: readonly CumulativeCounts[]): HistoryRow {
  const sum = new RowSum(rows[0] as HistoryRow);
  for (const row of rows) sum.add(row);
  const total = new CumulativeSum(rows[0] as HistoryRow);
  for (const part of cumulative) total.add(part);
  return sum.row(total.counts());
}
