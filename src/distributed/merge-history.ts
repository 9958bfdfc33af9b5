import type { LatencyHistogram, LatencySummary } from '../metrics/histogram.ts';
import { createHistogram, NO_LATENCY, restoreExtremes, summarize } from '../metrics/histogram.ts';
import { addEncoded } from '../metrics/histogram-decode.ts';
import { foldPoints } from '../metrics/history.ts';
import type { CumulativeCounts, HistoryPoint, HistoryRow, IntervalHealth } from '../metrics/history.ts';
import type { IntervalLoad, LoadCause } from '../metrics/load-verdict.ts';
import { CELL, HistoryTable, LATENCY_KEYS, TOTAL_KEY } from './history-table.ts';

/** A shard's history as `mergeHistories` takes it: one table per shard, made as each file is read. */
export function historyTable(history: readonly HistoryPoint[]): HistoryTable {
  return new HistoryTable(history, foldPoints);
}

/**
 * Shards' histories aligned by wall-clock interval: points whose `timestamp` rounds to the same
 * second are one interval of the run. Counts, rates and devices add up; each interval's latency is
 * recomputed from the shards' merged interval histograms (a shard's history carries them), or,
 * for results written without them, is the worst shard's.
 */
export function mergeHistories(tables: readonly HistoryTable[], startedAtMs: number): HistoryPoint[] {
  const bySecond = new Map<number, Int32Array>();
  tables.forEach((table, shard) => {
    table.points.forEach((point, p) => {
      let slot = bySecond.get(point.second);
      if (!slot) bySecond.set(point.second, (slot = new Int32Array(tables.length).fill(-1)));
      slot[shard] = p;
    });
  });
  const rows = new RowRegistry(tables);
  const lastOf = tables.map((table) => table.points.at(-1)?.second ?? 0);
  const carried = tables.map((table) => new Int32Array(table.keys.length).fill(-1));
  const devices = tables.map(() => ({ online: 0, target: 0 }));
  const merged: HistoryPoint[] = [];
  for (const second of [...bySecond.keys()].sort((a, b) => a - b)) {
    const slot = bySecond.get(second) as Int32Array;
    const present = tables.flatMap((table, shard) => ((slot[shard] as number) < 0 ? [] : [table.points[slot[shard] as number] as PointMeta]));
    slot.forEach((p, shard) => {
      const point = p < 0 ? undefined : tables[shard]?.points[p];
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
      ...mergeLoad(present),
      ...mergeRows(tables, slot, carried, rows),
    });
  }
  return merged;
}

type PointMeta = HistoryTable['points'][number];

/** The rows of every shard under one numbering, with the type and name each is shown with. */
class RowRegistry {
  readonly keys: { readonly key: string; readonly type: string; readonly name: string }[] = [];
  /** Per shard, its row k's number here. */
  readonly ofShard: Int32Array[];

  constructor(tables: readonly HistoryTable[]) {
    const index = new Map<string, number>();
    this.ofShard = tables.map((table) =>
      Int32Array.from(table.keys, (row) => {
        let id = index.get(row.key);
        if (id === undefined) {
          index.set(row.key, (id = this.keys.length));
          this.keys.push(row);
        }
        return id;
      }),
    );
  }
}

function worstHealth(healths: readonly IntervalHealth[]): IntervalHealth {
  const worst = (key: 'cpuPercent' | 'runQueuePercent' | 'otherCpuPercent' | 'stealPercent'): { [key]?: number } => {
    const values = healths.map((health) => health[key]);
    return values.every((value) => value !== undefined) ? { [key]: Math.max(...values.map(Number)) } : {};
  };
  return {
    busyPercent: Math.max(...healths.map((health) => health.busyPercent)),
    lagP99Ms: Math.max(...healths.map((health) => health.lagP99Ms)),
    ...worst('cpuPercent'),
    ...worst('runQueuePercent'),
    ...worst('otherCpuPercent'),
    ...worst('stealPercent'),
  };
}

/** Whose limit ranks first when shards differ: the machine's and fleetsim's before the target's, any shortfall before none. */
const CAUSE_ORDER: readonly LoadCause[] = ['host', 'generator', 'queues', 'target', 'delivered'];

/**
 * One interval's load over the shards: offered and delivered rates add; the share is the shards'
 * windowed shares weighted by what each offered; the cause is the first shard's shortfall in CAUSE_ORDER.
 */
function mergeLoad(present: readonly PointMeta[]): { load?: IntervalLoad } {
  const loads = present.flatMap((point) => (point.load ? [point.load] : []));
  if (loads.length === 0) return {};
  const offeredRps = loads.reduce((sum, load) => sum + load.offeredRps, 0);
  const deliveredRps = loads.reduce((sum, load) => sum + load.deliveredRps, 0);
  const judged = loads.filter((load) => load.deliveredShare !== null);
  const weight = judged.reduce((sum, load) => sum + load.offeredRps, 0);
  const share = judged.length === 0 ? null : weight > 0 ? judged.reduce((sum, load) => sum + (load.deliveredShare as number) * load.offeredRps, 0) / weight : (judged[0]?.deliveredShare ?? null);
  const causes = loads.flatMap((load) => (load.cause ? [load.cause] : []));
  const cause = CAUSE_ORDER.find((candidate) => causes.includes(candidate)) ?? null;
  return {
    load: {
      offeredRps: Math.round(offeredRps * 1000) / 1000,
      deliveredRps: Math.round(deliveredRps * 1000) / 1000,
      deliveredShare: share === null ? null : Math.round(share * 10000) / 10000,
      windowS: Math.max(...loads.map((load) => load.windowS)),
      cause,
    },
  };
}

/** One interval's total, type and (type, name) rows across the shards present, with every shard's run-so-far counts. */
function mergeRows(tables: readonly HistoryTable[], slot: Int32Array, carried: readonly Int32Array[], registry: RowRegistry): Pick<HistoryPoint, 'total' | 'types' | 'rows'> {
  const interval = new Map<number, RowSum>();
  for (let shard = 0; shard < tables.length; shard++) {
    const p = slot[shard] as number;
    if (p < 0) continue;
    const table = tables[shard] as HistoryTable;
    const ids = registry.ofShard[shard] as Int32Array;
    const latest = carried[shard] as Int32Array;
    for (let k = 0; k < table.keys.length; k++) {
      const at = table.offset(p, k);
      if (Number.isNaN(table.cells[at + CELL.requests])) continue;
      const id = ids[k] as number;
      let sum = interval.get(id);
      if (!sum) interval.set(id, (sum = new RowSum()));
      sum.add(table.cells, at, table.histograms[p * table.keys.length + k]);
      latest[k] = p;
    }
  }
  // Every shard's latest run-so-far counts per row, including rows that ran nothing this interval.
  const totals = new Map<number, CumulativeSum>();
  for (let shard = 0; shard < tables.length; shard++) {
    const table = tables[shard] as HistoryTable;
    const ids = registry.ofShard[shard] as Int32Array;
    const latest = carried[shard] as Int32Array;
    for (let k = 0; k < table.keys.length; k++) {
      const p = latest[k] as number;
      if (p < 0) continue;
      const id = ids[k] as number;
      let sum = totals.get(id);
      if (!sum) totals.set(id, (sum = new CumulativeSum()));
      sum.add(table.cells, table.offset(p, k));
    }
  }
  const types: HistoryRow[] = [];
  const rows: HistoryRow[] = [];
  let total = EMPTY_TOTAL;
  for (const [id, cumulative] of totals) {
    const { key, type, name } = registry.keys[id] as RowKey;
    const row = (interval.get(id) ?? new RowSum()).row(type, name, cumulative.counts());
    if (key === TOTAL_KEY) total = row;
    else (key.startsWith('T') ? types : rows).push(row);
  }
  const order = (a: HistoryRow, b: HistoryRow): number => a.name.localeCompare(b.name) || a.type.localeCompare(b.type);
  return { total, types: types.sort(order), rows: rows.sort(order) };
}

type RowKey = RowRegistry['keys'][number];

const EMPTY_TOTAL: HistoryRow = {
  type: '',
  name: 'Aggregated',
  requests: 0,
  failures: 0,
  timeouts: 0,
  rps: 0,
  failuresPerS: 0,
  latencyMs: NO_LATENCY,
  cumulative: { requests: 0, failures: 0, bytesIn: 0, latencyMs: { p50: null, mean: null, min: null, max: null } },
};

const round3 = (value: number): number => Math.round(value * 1000) / 1000;

/** Where in a cell the summary fields a worst-of takes the largest of sit (every one but min and mean). */
const WORST_AT = LATENCY_KEYS.flatMap((key, i) => (key === 'min' || key === 'mean' ? [] : [CELL.latency + i]));
const WORST_KEYS = LATENCY_KEYS.filter((key) => key !== 'min' && key !== 'mean');
const MIN_AT = CELL.latency + LATENCY_KEYS.indexOf('min');
const MEAN_AT = CELL.latency + LATENCY_KEYS.indexOf('mean');
const MAX_AT = CELL.latency + LATENCY_KEYS.indexOf('max');

/** A cell's number, null where the row had none. */
const orNull = (value: number): number | null => (Number.isNaN(value) ? null : value);
/** A cell's number, `fallback` where the row had none. */
const or = (value: number, fallback: number): number => (Number.isNaN(value) ? fallback : value);

/**
 * One row of one interval over the shards that have it: counts and rates add; the latency comes
 * from the merged interval histograms when every shard's row has one, else each percentile is the
 * worst shard's and the mean is weighted.
 */
class RowSum {
  private requests = 0;
  private failures = 0;
  private timeouts = 0;
  private rps = 0;
  private failuresPerS = 0;
  private sampled = 0;
  private weightedMean = 0;
  private min = Infinity;
  private readonly worst = new Float64Array(WORST_AT.length);
  /** The shards' interval histograms, merged while every shard with samples has one. */
  private merged: LatencyHistogram | undefined;
  private exact = true;

  add(cells: Float64Array, at: number, histogram?: string): void {
    const requests = cells[at + CELL.requests] as number;
    this.requests += requests;
    this.failures += cells[at + CELL.failures] as number;
    this.timeouts += cells[at + CELL.timeouts] as number;
    this.rps += cells[at + CELL.rps] as number;
    this.failuresPerS += cells[at + CELL.failuresPerS] as number;
    if (Number.isNaN(cells[at + MAX_AT])) return;
    if (histogram === undefined) this.exact = false;
    else if (this.exact) addEncoded((this.merged ??= createHistogram()), histogram);
    this.sampled += requests;
    this.weightedMean += or(cells[at + MEAN_AT] as number, 0) * requests;
    this.min = Math.min(this.min, or(cells[at + MIN_AT] as number, Infinity));
    for (let i = 0; i < WORST_AT.length; i++) this.worst[i] = Math.max(this.worst[i] as number, or(cells[at + (WORST_AT[i] as number)] as number, 0));
  }

  private latency(): LatencySummary {
    if (this.sampled === 0) return NO_LATENCY;
    if (this.exact && this.merged) {
      // Decoding rounds the extremes to their buckets; the shards' own min and max are exact.
      restoreExtremes(this.merged, this.min, this.worst[WORST_KEYS.indexOf('max')] as number);
      return summarize(this.merged);
    }
    const out = { min: this.min, mean: round3(this.weightedMean / this.sampled) } as Record<keyof LatencySummary, number>;
    for (let i = 0; i < WORST_KEYS.length; i++) out[WORST_KEYS[i] as (typeof WORST_KEYS)[number]] = this.worst[i] as number;
    return out;
  }

  row(type: string, name: string, cumulative: CumulativeCounts): HistoryRow {
    return {
      type,
      name,
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

  add(cells: Float64Array, at: number): void {
    const requests = cells[at + CELL.cumRequests] as number;
    this.requests += requests;
    this.failures += cells[at + CELL.cumFailures] as number;
    this.bytesIn += cells[at + CELL.cumBytesIn] as number;
    this.weightedMean += or(cells[at + CELL.cumMean] as number, 0) * requests;
    const p50 = orNull(cells[at + CELL.cumP50] as number);
    const min = orNull(cells[at + CELL.cumMin] as number);
    const max = orNull(cells[at + CELL.cumMax] as number);
    if (p50 !== null) this.p50 = this.p50 === null ? p50 : Math.max(this.p50, p50);
    if (min !== null) this.min = this.min === null ? min : Math.min(this.min, min);
    if (max !== null) this.max = this.max === null ? max : Math.max(this.max, max);
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
