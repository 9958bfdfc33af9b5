import * as hdr from 'hdr-histogram-js';
import type { Histogram } from 'hdr-histogram-js';

/** One hour in microseconds: anything slower is clamped, never dropped. */
const HIGHEST_MICROS = 3_600_000_000;

export type LatencyHistogram = Histogram;

export function createHistogram(): LatencyHistogram {
  return hdr.build({
    bitBucketSize: 32,
    numberOfSignificantValueDigits: 3,
    lowestDiscernibleValue: 1,
    highestTrackableValue: HIGHEST_MICROS,
    autoResize: false,
    useWebAssembly: false,
  });
}

export function recordMicros(histogram: LatencyHistogram, micros: number): void {
  histogram.recordValue(Math.min(HIGHEST_MICROS, Math.max(1, Math.round(micros))));
}

export function encodeHistogram(histogram: LatencyHistogram): string {
  return hdr.encodeIntoCompressedBase64(histogram);
}

export function decodeHistogram(encoded: string): LatencyHistogram {
  const decoded = hdr.decodeFromCompressedBase64(encoded, 32, false);
  const histogram = createHistogram();
  histogram.add(decoded);
  return histogram;
}

export const PERCENTILES = [
  ['p50', 50],
  ['p66', 66],
  ['p75', 75],
  ['p80', 80],
  ['p90', 90],
  ['p95', 95],
  ['p98', 98],
  ['p99', 99],
  ['p999', 99.9],
  ['p9999', 99.99],
] as const;

export type PercentileKey = (typeof PERCENTILES)[number][0];

export type LatencySummary = { min: number; mean: number; max: number } & Record<PercentileKey, number>;

const round3 = (ms: number): number => Math.round(ms * 1000) / 1000;

/** Milliseconds with microsecond resolution; zeros when nothing was recorded. */
export function summarize(histogram: LatencyHistogram): LatencySummary {
  const empty = histogram.totalCount === 0;
  const summary = {
    min: empty ? 0 : round3(histogram.minNonZeroValue / 1000),
    mean: empty ? 0 : round3(histogram.mean / 1000),
    max: empty ? 0 : round3(histogram.maxValue / 1000),
  } as LatencySummary;
  for (const [key, percentile] of PERCENTILES) summary[key] = empty ? 0 : round3(histogram.getValueAtPercentile(percentile) / 1000);
  return summary;
}
