import { addEncoded } from '../metrics/histogram-decode.ts';
import { createHistogram, summarize } from '../metrics/histogram.ts';
import type { HistoryPoint } from '../metrics/history.ts';
import { formatProgress } from '../report/console.ts';

/** One worker's latest interval, as much of it as the fleet's live line sums. */
export interface WorkerProgress {
  readonly atS: number;
  readonly intervalS: number;
  readonly devicesOnline: number;
  readonly devicesTarget: number;
  readonly rps: number;
  readonly failuresPerS: number;
}

export interface ProgressPercentiles {
  readonly p50: number | null;
  readonly p95: number | null;
  readonly p99: number | null;
}

/**
 * The live line of a fleet split over workers: devices and rates summed over the workers that
 * reported, the percentiles as the caller merged them (pointsProgressLine: from their histograms).
 */
export function fleetProgressLine(reported: readonly WorkerProgress[], latencyMs: ProgressPercentiles, count: number, totalMs: number | undefined): string | undefined {
  if (reported.length === 0) return undefined;
  const sum = (pick: (part: WorkerProgress) => number): number => reported.reduce((total, part) => total + pick(part), 0);
  return `${formatProgress({
    elapsedMs: Math.max(...reported.map((part) => part.atS)) * 1000,
    totalMs,
    devicesOnline: sum((part) => part.devicesOnline),
    devicesTarget: sum((part) => part.devicesTarget),
    windowS: Math.max(...reported.map((part) => part.intervalS)),
    rps: sum((part) => part.rps),
    failuresPerS: sum((part) => part.failuresPerS),
    latencyMs: { p50: latencyMs.p50, p95: latencyMs.p95, p99: latencyMs.p99 },
    topError: undefined,
  })}  (${reported.length}/${count} workers)`;
}

/** The coordinator's line: every worker's latest history point, percentiles from their merged histograms. */
export function pointsProgressLine(points: readonly HistoryPoint[], count: number, totalMs: number | undefined): string | undefined {
  const merged = createHistogram();
  for (const point of points) if (point.total.histogram !== undefined) addEncoded(merged, point.total.histogram);
  const { p50, p95, p99 } = summarize(merged);
  const parts = points.map((point) => ({ ...point, rps: point.total.rps, failuresPerS: point.total.failuresPerS }));
  return fleetProgressLine(parts, { p50, p95, p99 }, count, totalMs);
}
