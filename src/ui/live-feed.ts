import { evaluateThresholds } from '../metrics/evaluate-thresholds.ts';
import { failuresOf } from '../metrics/failure-list.ts';
import type { FailureCount } from '../metrics/failure-list.ts';
import { PERCENTILES } from '../metrics/histogram.ts';
import type { LatencySummary } from '../metrics/histogram.ts';
import type { HistoryPoint } from '../metrics/history.ts';
import { buildRows } from '../metrics/results.ts';
import type { Results, StatsRow, ThresholdResult } from '../metrics/results.ts';
import type { StatsEntry } from '../metrics/stats.ts';
import { parseThreshold } from '../profile/thresholds.ts';
import { formatThresholdValue } from '../report/format.ts';

/** The latency columns the page's tables show (src/ui/browser/live-page.js), of every row. */
const PAGE_LATENCY = ['min', 'mean', 'max', 'p50', 'p90', 'p95', 'p99'] as const;
export type PageLatency = Pick<LatencySummary, (typeof PAGE_LATENCY)[number]>;

/**
 * What the page is sent: the rows, failures and thresholds as the results compute them, without
 * the encoded histograms (which only `merge` needs) and the latencies it does not show, so a
 * browser tab costs the run little.
 */
export type RowView = Pick<StatsRow, 'type' | 'name' | 'requests' | 'failures' | 'timeouts' | 'rps' | 'failuresPerS' | 'bytesIn'> & {
  readonly latencyMs: PageLatency;
};

export interface TableView {
  readonly stats: readonly RowView[];
  readonly types: readonly RowView[];
  readonly total: RowView;
  readonly failures: readonly FailureCount[];
  /** Each with its value as the console prints it, in the metric's unit (`3.94%`, `22.7 ms`). */
  readonly thresholds: readonly ShownThreshold[];
  /** Seconds the rates divide by: the run so far, or its active time once finished. */
  readonly seconds: number;
}

export type ShownThreshold = ThresholdResult & { readonly shown: string };

const shown = (thresholds: readonly ThresholdResult[]): ShownThreshold[] => thresholds.map((threshold) => ({ ...threshold, shown: formatThresholdValue(threshold) }));

export function rowView(row: StatsRow): RowView {
  const { type, name, requests, failures, timeouts, rps, failuresPerS, bytesIn } = row;
  const { min, mean, max, p50, p90, p95, p99 } = row.latencyMs;
  return { type, name, requests, failures, timeouts, rps, failuresPerS, bytesIn, latencyMs: { min, mean, max, p50, p90, p95, p99 } };
}

/**
 * The run so far: every row over the seconds since the start, with the thresholds judged on it now.
 * It is built on the generator's event loop every other interval, so each row's latency is summarised
 * only at the percentiles the page shows and the thresholds read.
 */
export function liveTable(entries: readonly StatsEntry[], seconds: number, thresholds: readonly string[]): TableView {
  const read = new Set<string>([...PAGE_LATENCY, ...thresholds.map((expr) => parseThreshold(expr).metric)]);
  const rows = buildRows(entries, Math.max(0.001, seconds), { percentiles: PERCENTILES.filter(([key]) => read.has(key)) });
  return {
    stats: rows.stats.map(rowView),
    types: rows.types.map(rowView),
    total: rowView(rows.total),
    failures: failuresOf(entries),
    thresholds: shown(evaluateThresholds(rows, thresholds)),
    seconds: Math.round(seconds * 1000) / 1000,
  };
}

/** The finished run's table: exactly the results' numbers, so the page and the results JSON agree. */
export function finalTable(results: Results): TableView {
  return {
    stats: results.stats.map(rowView),
    types: results.types.map(rowView),
    total: rowView(results.total),
    failures: results.failures,
    thresholds: shown(results.thresholds),
    seconds: results.activeS,
  };
}

export interface DevicesView {
  readonly online: number;
  /** Where the count is heading (the ramp's goal). */
  readonly target: number;
  /** Devices in the population now. */
  readonly running: number;
  /** The most the run can be raised to: the fleet it was started with. */
  readonly ceiling: number;
}

/**
 * Intervals between two tables: a table sums and summarises every row's histograms (milliseconds
 * of main thread), so it goes out every 2 s, the cadence asked for; the points go out every second.
 */
export const TABLE_EVERY_INTERVALS = 2;

/** One interval as pushed: the history point the reports get, and every other interval the table so far. */
export interface IntervalMessage {
  readonly point: HistoryPoint;
  readonly table?: TableView;
  readonly devices: DevicesView;
}

/** A finished run as pushed: the final table and history, and what can be downloaded. */
export interface DoneMessage {
  readonly table: TableView;
  readonly history: readonly HistoryPoint[];
  readonly summary: RunSummary;
  readonly downloads: readonly string[];
}

export interface RunSummary {
  readonly startedAt: string;
  readonly endedAt: string;
  readonly durationS: number;
  readonly activeS: number;
  readonly stopReason: string;
  readonly devices: Results['devices'];
  readonly generator: Results['generator'];
  readonly saturatedIntervals: number;
  readonly warnings: readonly string[];
  /** The run's load verdict (offered against delivered, whose limit a shortfall was). */
  readonly load?: Results['load'];
  readonly exitCode: number;
  /** Seconds into the run at which the statistics were reset from the page; absent when never. */
  readonly resetAtS?: number;
}

export function runSummary(results: Results, exitCode: number, resetAtS?: number): RunSummary {
  const { startedAt, endedAt, durationS, activeS, stopReason, generator, warnings } = results;
  // The online count over time is in the history already.
  const { target, started, online } = results.devices;
  return {
    startedAt,
    endedAt,
    durationS,
    activeS,
    stopReason,
    devices: { target, started, online },
    generator,
    saturatedIntervals: results.saturation.intervals,
    warnings,
    exitCode,
    ...(results.load ? { load: results.load } : {}),
    ...(resetAtS === undefined ? {} : { resetAtS }),
  };
}
