import { PERCENTILES } from '../metrics/histogram.ts';
import type { LatencySummary } from '../metrics/histogram.ts';
import type { HistoryPoint, HistoryRow } from '../metrics/history.ts';

/** The summary fields of a row's interval latency, in the order a cell keeps them. */
export const LATENCY_KEYS = ['min', 'mean', 'max', 'p50', 'p66', 'p75', 'p80', 'p90', 'p95', 'p98', 'p99', 'p999', 'p9999'] as const satisfies readonly (keyof LatencySummary)[];

// writeRow writes the fields in LATENCY_KEYS's order, by name; the two must list the same percentiles.
if (LATENCY_KEYS.length !== PERCENTILES.length + 3 || PERCENTILES.some(([key], i) => LATENCY_KEYS[i + 3] !== key)) throw new Error('LATENCY_KEYS is out of step with PERCENTILES');

/** Where a row's numbers sit in its cell; NaN stands for null, and NaN requests for a row absent from the point. */
export const CELL = {
  requests: 0,
  failures: 1,
  timeouts: 2,
  rps: 3,
  failuresPerS: 4,
  latency: 5,
  cumRequests: 5 + LATENCY_KEYS.length,
  cumFailures: 6 + LATENCY_KEYS.length,
  cumBytesIn: 7 + LATENCY_KEYS.length,
  cumP50: 8 + LATENCY_KEYS.length,
  cumMean: 9 + LATENCY_KEYS.length,
  cumMin: 10 + LATENCY_KEYS.length,
  cumMax: 11 + LATENCY_KEYS.length,
  size: 12 + LATENCY_KEYS.length,
} as const;

/** A point's own figures, without its rows, and the wall-clock second it ended in. */
export type PointMeta = Pick<HistoryPoint, 'intervalS' | 'folded' | 'devicesOnline' | 'devicesTarget' | 'generator' | 'saturated' | 'load'> & { readonly second: number };

/** A row of the history: its key, shared by the shards, and the type and name it is shown with. */
export interface RowKey {
  readonly key: string;
  readonly type: string;
  readonly name: string;
}

export const TOTAL_KEY = '\u0000total';

const orNaN = (value: number | null | undefined): number => value ?? Number.NaN;

/** Row keys by kind, type and name, so a row's key is looked up rather than built from strings for every point. */
class KeyIndex {
  private readonly byType = new Map<string, Map<string, number>>();

  constructor(private readonly keys: RowKey[]) {}

  /** The row's number in `keys`, added if new; `kind` is TOTAL_KEY, 'T' (type aggregate) or 'R' (a row). */
  of(kind: string, row: HistoryRow): number {
    let byName = this.byType.get(kind + row.type);
    if (!byName) this.byType.set(kind + row.type, (byName = new Map<string, number>()));
    let index = byName.get(row.name);
    if (index === undefined) {
      byName.set(row.name, (index = this.keys.length));
      this.keys.push({ key: kind === 'R' ? `R${row.type}\u0000${row.name}` : kind === 'T' ? `T${row.type}` : TOTAL_KEY, type: row.type, name: row.name });
    }
    return index;
  }
}

/**
 * One shard's history as numbers in one typed array: a point per wall-clock second, a cell per row.
 * A hundred shards' histories held as objects cost merge most of its time in the garbage
 * collector; as tables, the objects parsed from each file die young.
 */
export class HistoryTable {
  readonly points: PointMeta[] = [];
  readonly keys: RowKey[] = [];
  readonly cells: Float64Array;
  /** Row k's interval histogram at point p, at `p * keys.length + k` (a shard's history carries them). */
  readonly histograms: (string | undefined)[] = [];

  /** `fold` joins two points of one second (timer jitter); the table holds one point per second. */
  constructor(history: readonly HistoryPoint[], fold: (a: HistoryPoint, b: HistoryPoint) => HistoryPoint) {
    const bySecond: HistoryPoint[] = [];
    let lastSecond = Number.NaN;
    for (const point of history) {
      const second = Math.round(point.timestamp / 1000);
      const earlier = second === lastSecond ? bySecond.pop() : undefined;
      bySecond.push(earlier ? fold(earlier, point) : point);
      lastSecond = second;
    }
    const index = new KeyIndex(this.keys);
    const at = bySecond.map((point) => ({ total: index.of(TOTAL_KEY, point.total), types: point.types.map((row) => index.of('T', row)), rows: point.rows.map((row) => index.of('R', row)) }));
    const width = this.keys.length * CELL.size;
    this.cells = new Float64Array(bySecond.length * width).fill(Number.NaN);
    bySecond.forEach((point, p) => {
      this.points.push({
        second: Math.round(point.timestamp / 1000),
        intervalS: point.intervalS,
        folded: point.folded,
        devicesOnline: point.devicesOnline,
        devicesTarget: point.devicesTarget,
        generator: point.generator,
        saturated: point.saturated,
        ...(point.load ? { load: point.load } : {}),
      });
      const keys = at[p] as (typeof at)[number];
      const base = p * this.keys.length;
      const keep = (k: number, row: HistoryRow): void => {
        writeRow(this.cells, p * width + k * CELL.size, row);
        if (row.histogram !== undefined) this.histograms[base + k] = row.histogram;
      };
      keep(keys.total, point.total);
      point.types.forEach((row, i) => keep(keys.types[i] as number, row));
      point.rows.forEach((row, i) => keep(keys.rows[i] as number, row));
    });
  }

  /** Where the cell of row `k` at point `p` starts. */
  offset(p: number, k: number): number {
    return (p * this.keys.length + k) * CELL.size;
  }
}

/** Puts a row's numbers into `cells` from `at` (CELL's layout). */
export function writeRow(cells: Float64Array, at: number, row: HistoryRow): void {
  cells[at + CELL.requests] = row.requests;
  cells[at + CELL.failures] = row.failures;
  cells[at + CELL.timeouts] = row.timeouts;
  cells[at + CELL.rps] = row.rps;
  cells[at + CELL.failuresPerS] = row.failuresPerS;
  // Named reads rather than by LATENCY_KEYS: a keyed read per field was most of a table's cost.
  const { min, mean, max, p50, p66, p75, p80, p90, p95, p98, p99, p999, p9999 } = row.latencyMs;
  const latency = [min, mean, max, p50, p66, p75, p80, p90, p95, p98, p99, p999, p9999];
  for (let i = 0; i < latency.length; i++) cells[at + CELL.latency + i] = orNaN(latency[i]);
  const { requests, failures, bytesIn, latencyMs } = row.cumulative;
  const cumulative = [requests, failures, bytesIn, latencyMs.p50, latencyMs.mean, latencyMs.min, latencyMs.max];
  for (let i = 0; i < cumulative.length; i++) cells[at + CELL.cumRequests + i] = orNaN(cumulative[i]);
}
