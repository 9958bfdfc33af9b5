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

/**
 * Prometheus latency buckets in µs: 0.5 ms to 10 s, roughly 1-2.5-5 per decade, which spans a LAN
 * API's sub-millisecond answers and an MQTT ack timeout alike.
 */
export const PROMETHEUS_BOUNDS_MICROS: readonly number[] = [
  500, 1_000, 2_500, 5_000, 10_000, 25_000, 50_000, 100_000, 250_000, 500_000, 1_000_000, 2_500_000, 5_000_000, 10_000_000,
];

/**
 * Reads an HDR histogram into cumulative counts at `boundsMicros` (ascending) in one pass over its
 * non-empty range, so a scrape costs the counts array's span, not the samples. A sample counts at
 * or below a bound when its HDR bucket starts there or lower: HDR keeps 3 significant digits, so a
 * sample can land on the wrong side of a bound only when within 0.1% of it.
 */
export function cumulativeBuckets(histogram: LatencyHistogram, boundsMicros: readonly number[]): CumulativeBuckets {
  const js = histogram as JsHistogram;
  const cumulative = new Array<number>(boundsMicros.length).fill(0);
  const count = js.totalCount;
  if (count === 0) return { cumulative, count, sumMicros: 0 };
  let bound = 0;
  let boundValue = boundsMicros[0] ?? Number.POSITIVE_INFINITY;
  let seen = 0;
  let sumMicros = 0;
  // Zero is outside minNonZeroValue's range: start at index 0 when a zero was recorded.
  const first = js.getCountAtIndex(0) > 0 ? 0 : js.countsArrayIndex(js.minNonZeroValue);
  const last = Math.min(js.countsArrayIndex(js.maxValue), js.countsArrayLength - 1);
  for (let i = first; i <= last; i++) {
    const samples = js.getCountAtIndex(i);
    if (samples === 0) continue;
    const value = js.valueFromIndex(i);
    while (value > boundValue) {
      cumulative[bound] = seen;
      bound++;
      boundValue = boundsMicros[bound] ?? Number.POSITIVE_INFINITY;
    }
    seen += samples;
    sumMicros += samples * js.medianEquivalentValue(value);
  }
  for (; bound < boundsMicros.length; bound++) cumulative[bound] = seen;
  return { cumulative, count, sumMicros };
}
