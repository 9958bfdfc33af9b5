import type { JsHistogram } from 'hdr-histogram-js';
import type { LatencyHistogram } from './histogram.ts';

/** A histogram as Prometheus exposes it: cumulative counts at fixed upper bounds. */
export interface CumulativeBuckets {
  /** Samples at or below each bound, in the bounds' order: cumulative, so never decreasing. */
  readonly cumulative: number[];
  /** Every sample: the `+Inf` bucket and `_count`. */
  readonly count: number;
  /** Sum of the samples in µs, each at its HDR bucket's median equivalent value: HDR's own mean × count. */
  readonly sumMicros: number;
}

/** Ten bounds a decade (the R10 preferred numbers): neighbours at most 1.28× apart. */
const R10 = [1, 1.25, 1.6, 2, 2.5, 3.2, 4, 5, 6.3, 8] as const;

/**
 * Prometheus latency buckets in µs: 0.1 ms to 10 s at ten a decade (51 bounds), which spans a LAN
 * API's sub-millisecond answers and an MQTT ack timeout alike. `histogram_quantile` interpolates
 * linearly inside a bucket, so its p95 lands within a few per cent of the HDR value for a spread of
 * latencies (14 buckets at 1-2.5-5 put GET /greet's p95 at 41.7 ms against HDR's 29.0).
 */
export const PROMETHEUS_BOUNDS_MICROS: readonly number[] = [...[100, 1_000, 10_000, 100_000, 1_000_000].flatMap((decade) => R10.map((step) => Math.round(decade * step))), 10_000_000];

/**
 * Reads an HDR histogram into cumulative counts at `boundsMicros` (ascending) in one pass over its
 * non-empty range, so a scrape costs the counts array's span, not the samples. A sample counts at
 * or below a bound when its HDR bucket starts there or lower: HDR keeps 3 significant digits, so a
 * sample can land on the wrong side of a bound only when within 0.1% of it.
 *
 * Asking HDR for each index's value costs ~100 ns (a scrape of 100 rows took 180 ms that way), so
 * the pass runs in segments that end at a bound's index or where HDR's equivalent range doubles
 * in width (`subBucketCount × width`): inside a segment values step by one width, so the segment's
 * count and sum come from a tight loop over the counts, and HDR's value functions run only at the
 * segments' starts.
 */
export function cumulativeBuckets(histogram: LatencyHistogram, boundsMicros: readonly number[]): CumulativeBuckets {
  const js = histogram as JsHistogram;
  const cumulative = new Array<number>(boundsMicros.length).fill(0);
  const count = js.totalCount;
  if (count === 0) return { cumulative, count, sumMicros: 0 };
  const counts = countsOf(js);
  // Zero is outside minNonZeroValue's range: start at index 0 when a zero was recorded.
  const first = (counts[0] ?? 0) > 0 ? 0 : js.countsArrayIndex(js.minNonZeroValue);
  const last = Math.min(js.countsArrayIndex(js.maxValue), js.countsArrayLength - 1);
  const boundIndex = (bound: number): number => {
    const value = boundsMicros[bound];
    return value === undefined ? Number.POSITIVE_INFINITY : js.countsArrayIndex(value);
  };
  let bound = 0;
  let nextBound = boundIndex(0);
  while (nextBound < first) nextBound = boundIndex(++bound);
  let width = js.sizeOfEquivalentValueRange(js.valueFromIndex(first));
  let widthDoublesAt = js.subBucketCount * width;
  let regionEnd = js.countsArrayIndex(widthDoublesAt);
  let seen = 0;
  let sumMicros = 0;
  for (let start = first; start <= last;) {
    const stop = Math.min(last, regionEnd - 1, nextBound);
    let samples = 0;
    let steps = 0;
    for (let i = start; i <= stop; i++) {
      const n = counts[i] ?? 0;
      samples += n;
      steps += n * (i - start);
    }
    seen += samples;
    // Each sample weighs at its bucket's median equivalent value, as HDR's mean does: _sum is its mean × count.
    if (samples > 0) sumMicros += samples * (js.valueFromIndex(start) + Math.floor(width / 2)) + width * steps;
    if (stop === nextBound) {
      cumulative[bound] = seen;
      nextBound = boundIndex(++bound);
    }
    if (stop === regionEnd - 1) {
      width *= 2;
      widthDoublesAt *= 2;
      regionEnd = js.countsArrayIndex(widthDoublesAt);
    }
    start = stop + 1;
  }
  for (; bound < boundsMicros.length; bound++) cumulative[bound] = seen;
  return { cumulative, count, sumMicros };
}

/**
 * The counts by index. fleetsim's histograms are HDR's typed-array kind, whose `_counts` array is
 * in its typings (TypedArrayHistogram); indexing it is several times faster than a
 * `getCountAtIndex` call per index. Any other kind is copied out through the method.
 */
function countsOf(histogram: JsHistogram): ArrayLike<number> {
  const counts = (histogram as { _counts?: ArrayLike<number> })._counts;
  return counts ?? Array.from({ length: histogram.countsArrayLength }, (_, index) => histogram.getCountAtIndex(index));
}
