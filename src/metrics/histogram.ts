import * as hdr from 'hdr-histogram-js';
import type { Histogram, JsHistogram } from 'hdr-histogram-js';
import type { LatencySummary, PercentileKey } from '../contracts/latency.ts';
export type { LatencySummary, PercentileKey } from '../contracts/latency.ts';

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
] as const satisfies readonly (readonly [PercentileKey, number])[];

export type Percentile = (typeof PERCENTILES)[number];

/** A summary of a histogram that has samples: every field is a number. */
export type RecordedLatency = { min: number; mean: number; max: number } & Record<PercentileKey, number>;

const round3 = (ms: number): number => Math.round(ms * 1000) / 1000;

/** A summary of an empty histogram: no samples, so no latency (not 0). */
export const NO_LATENCY: LatencySummary = Object.freeze({
  min: null,
  mean: null,
  max: null,
  p50: null,
  p66: null,
  p75: null,
  p80: null,
  p90: null,
  p95: null,
  p98: null,
  p99: null,
  p999: null,
  p9999: null,
});

/**
 * Milliseconds with microsecond resolution, every percentile in one pass over the counts (the
 * history summarises every row every second). A percentile is the highest value equivalent to
 * its bucket, as HdrHistogram reports it, clamped to the largest value recorded, so no percentile
 * ever reads above the row's max.
 */
export function summarize(histogram: LatencyHistogram): LatencySummary {
  return histogram.totalCount === 0 ? NO_LATENCY : summarizeRecorded(histogram);
}

/** `summarize` for a histogram known to hold samples. */
export function summarizeRecorded(histogram: LatencyHistogram): RecordedLatency {
  return summarizeAt(histogram as JsHistogram, PERCENTILES, {} as RecordedLatency);
}

/**
 * `summarize` with only `percentiles` (a subsequence of PERCENTILES) filled in, the others null: the
 * walk over the counts stops at the highest one asked for.
 */
export function summarizeOnly(histogram: LatencyHistogram, percentiles: readonly Percentile[]): LatencySummary {
  if (histogram.totalCount === 0) return NO_LATENCY;
  return summarizeAt(histogram as JsHistogram, percentiles, { ...NO_LATENCY });
}

function summarizeAt<T extends LatencySummary>(js: JsHistogram, percentiles: readonly Percentile[], summary: T): T {
  const total = js.totalCount;
  const max = js.maxValue;
  summary.min = round3(js.minNonZeroValue / 1000);
  summary.mean = round3(meanMicros(js) / 1000);
  summary.max = round3(max / 1000);
  let next = 0;
  let wanted = countAt(percentiles[0]?.[1] ?? 100, total);
  let seen = 0;
  const length = js.countsArrayLength;
  for (let i = js.countsArrayIndex(js.minNonZeroValue); i < length && next < percentiles.length; i++) {
    const count = js.getCountAtIndex(i);
    if (count === 0) continue;
    seen += count;
    while (seen >= wanted && next < percentiles.length) {
      const value = Math.min(max, js.highestEquivalentValue(js.valueFromIndex(i)));
      summary[(percentiles[next] as Percentile)[0]] = round3(value / 1000);
      next++;
      if (next < percentiles.length) wanted = countAt((percentiles[next] as Percentile)[1], total);
    }
  }
  return summary;
}

/**
 * The histogram's mean in microseconds, exactly as the library's `mean` computes it (the same
 * values summed in the same order), in one pass over the counts: the library walks every bucket
 * through its iterator, several times slower than all the percentiles together. Each bucket's value,
 * `medianEquivalentValue(highestEquivalentValue(valueFromIndex(i)))` in the library's terms, is
 * computed from the index as valueFromIndex does, without the three log2 and pow calls per bucket
 * those methods make: it was most of the cost of a summary, and the history and the live page
 * summarise every row.
 */
export function meanMicros(histogram: LatencyHistogram): number {
  const js = histogram as JsHistogram;
  const total = js.totalCount;
  if (total === 0) return 0;
  const half = js.subBucketHalfCount;
  let seen = 0;
  let sum = 0;
  const length = js.countsArrayLength;
  for (let i = js.countsArrayIndex(js.minNonZeroValue); i < length && seen < total; i++) {
    const count = js.getCountAtIndex(i);
    if (count === 0) continue;
    seen += count;
    // Bucket 0 spans indices 0 to 2·half−1; every later bucket, half indices at twice the width.
    const bucket = Math.max(0, Math.floor(i / half) - 1);
    const subBucket = i < half ? i : (i % half) + half;
    const width = 2 ** (bucket + js.unitMagnitude);
    sum += (subBucket * width + Math.floor(width / 2)) * count;
  }
  return sum / total;
}

/** The sample count a percentile reaches, as HdrHistogram rounds it (up, and at least the first sample). */
function countAt(percentile: number, total: number): number {
  return Math.max(1, Math.ceil((percentile / 100) * total - 1e-9));
}

/**
 * The encoding keeps bucket counts, not the exact extremes: decoded, a histogram's max reads as
 * its bucket's highest value. Merging shards, the extremes their summaries give (whole
 * microseconds) are put back, so a merged max is the largest shard max exactly.
 */
export function restoreExtremes(histogram: LatencyHistogram, minMs: number, maxMs: number): void {
  const js = histogram as JsHistogram;
  if (js.totalCount === 0) return;
  js.maxValue = Math.round(maxMs * 1000);
  js.minNonZeroValue = Math.round(minMs * 1000);
}
