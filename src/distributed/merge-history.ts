import { foldLatency } from '../metrics/history.ts';
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
  const interval = new Map<string, HistoryRow[]>();
  const note = (key: string, row: HistoryRow, shard: number): void => {
    let rows = interval.get(key);
    if (!rows) interval.set(key, (rows = []));
    rows.push(row);
    carried[shard]?.set(key, row);
  };
  slot.forEach((point, shard) => {
    if (!point) return;
    note(TOTAL, point.total, shard);
    for (const row of point.types) note(`T ${row.type}`, row, shard);
    for (const row of point.rows) note(`R ${row.type} ${row.name}`, row, shard);
  });
  const merge = (key: string): HistoryRow | undefined => {
    const rows = interval.get(key);
    const cumulative = carried.flatMap((rowsSoFar) => {
      const row = rowsSoFar.get(key);
      return row ? [row.cumulative] : [];
    });
    if (rows) return addRows(rows, cumulative);
    // Only earlier intervals had this row: it ran nothing now, and keeps its totals.
    const last = carried.find((rowsSoFar) => rowsSoFar.has(key))?.get(key);
    return last && addRows([{ ...last, requests: 0, failures: 0, timeouts: 0, rps: 0, failuresPerS: 0, latencyMs: EMPTY_LATENCY }], cumulative);
  };
  const keys = new Set(carried.flatMap((rowsSoFar) => [...rowsSoFar.keys()]));
  const pick = (prefix: string): HistoryRow[] =>
    [...keys].filter((key) => key.startsWith(prefix)).flatMap((key) => merge(key) ?? []).sort((a, b) => a.name.localeCompare(b.name) || a.type.localeCompare(b.type));
  return { total: merge(TOTAL) ?? EMPTY_TOTAL, types: pick('T '), rows: pick('R ') };
}

const EMPTY_LATENCY: HistoryRow['latencyMs'] = { min: null, mean: null, max: null, p50: null, p66: null, p75: null, p80: null, p90: null, p95: null, p98: null, p99: null, p999: null, p9999: null };

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

/** Rows of one interval from several shards, with the run-so-far counts of every shard that has them. */
function addRows(rows: readonly HistoryRow[], cumulative: readonly CumulativeCounts[]): HistoryRow {
  const first = rows[0] as HistoryRow;
  let latency = first.latencyMs;
  let count = first.requests;
  for (let i = 1; i < rows.length; i++) {
    const row = rows[i] as HistoryRow;
    latency = foldLatency(latency, count, row.latencyMs, row.requests);
    count += row.requests;
  }
  return {
    type: first.type,
    name: first.name,
    requests: count,
    failures: rows.reduce((sum, row) => sum + row.failures, 0),
    timeouts: rows.reduce((sum, row) => sum + row.timeouts, 0),
    rps: round3(rows.reduce((sum, row) => sum + row.rps, 0)),
    failuresPerS: round3(rows.reduce((sum, row) => sum + row.failuresPerS, 0)),
    latencyMs: latency,
    cumulative: addCumulative(cumulative),
  };
}

function addCumulative(parts: readonly CumulativeCounts[]): CumulativeCounts {
  const requests = parts.reduce((sum, part) => sum + part.requests, 0);
  const numbers = (pick: (part: CumulativeCounts) => number | null): number[] => parts.flatMap((part) => {
    const value = pick(part);
    return value === null ? [] : [value];
  });
  const weighted = parts.reduce((sum, part) => sum + (part.latencyMs.mean ?? 0) * part.requests, 0);
  const p50 = numbers((part) => part.latencyMs.p50);
  const min = numbers((part) => part.latencyMs.min);
  const max = numbers((part) => part.latencyMs.max);
  return {
    requests,
    failures: parts.reduce((sum, part) => sum + part.failures, 0),
    bytesIn: parts.reduce((sum, part) => sum + part.bytesIn, 0),
    latencyMs: {
      p50: p50.length === 0 ? null : Math.max(...p50),
      mean: requests === 0 || min.length === 0 ? null : round3(weighted / requests),
      min: min.length === 0 ? null : Math.min(...min),
      max: max.length === 0 ? null : Math.max(...max),
    },
  };
}
