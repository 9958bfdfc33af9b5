import { test } from 'node:test';
import assert from 'node:assert/strict';
import type { JsHistogram } from 'hdr-histogram-js';
import { createHistogram, recordMicros } from '../../../src/metrics/histogram.ts';
import type { LatencyHistogram } from '../../../src/metrics/histogram.ts';
import { cumulativeBuckets, PROMETHEUS_BOUNDS_MICROS } from '../../../src/metrics/histogram-buckets.ts';
import { deviceRandom } from '../../../src/identity/rng.ts';

/** The same counts the slow, obvious way: HDR's own value for every index. */
function reference(histogram: LatencyHistogram, bounds: readonly number[]): { cumulative: number[]; sum: number } {
  const js = histogram as JsHistogram;
  const cumulative = bounds.map(() => 0);
  let sum = 0;
  for (let i = 0; i < js.countsArrayLength; i++) {
    const count = js.getCountAtIndex(i);
    if (count === 0) continue;
    const value = js.valueFromIndex(i);
    bounds.forEach((bound, b) => {
      if (value <= bound) cumulative[b] = (cumulative[b] ?? 0) + count;
    });
    sum += count * js.medianEquivalentValue(value);
  }
  return { cumulative, sum };
}

function filled(samples: readonly number[]): LatencyHistogram {
  const histogram = createHistogram();
  for (const micros of samples) recordMicros(histogram, micros);
  return histogram;
}

test('an empty histogram has no samples in any bucket', () => {
  const buckets = cumulativeBuckets(createHistogram(), PROMETHEUS_BOUNDS_MICROS);
  assert.deepEqual(buckets, { cumulative: PROMETHEUS_BOUNDS_MICROS.map(() => 0), count: 0, sumMicros: 0 });
});

test('a sample exactly on a bound counts at that bound (le is inclusive); one above it does not', () => {
  const buckets = cumulativeBuckets(filled([500, 1_000, 1_001, 10_000_000, 3_000_000_000]), PROMETHEUS_BOUNDS_MICROS);
  const at = (micros: number): number | undefined => buckets.cumulative[PROMETHEUS_BOUNDS_MICROS.indexOf(micros)];
  assert.equal(at(400), 0, 'le=0.0004');
  assert.equal(at(500), 1, 'le=0.0005');
  assert.equal(at(1_000), 2, 'le=0.001');
  assert.equal(at(1_250), 3, 'le=0.00125');
  assert.equal(buckets.cumulative.at(-1), 4, 'le=10: the 50-minute sample is only in +Inf');
  assert.equal(buckets.count, 5);
});

test('bounds: ten a decade from 0.1 ms to 10 s, ascending, neighbours at most 1.28x apart', () => {
  assert.equal(PROMETHEUS_BOUNDS_MICROS[0], 100);
  assert.equal(PROMETHEUS_BOUNDS_MICROS.at(-1), 10_000_000);
  assert.equal(PROMETHEUS_BOUNDS_MICROS.length, 51);
  for (let i = 1; i < PROMETHEUS_BOUNDS_MICROS.length; i++) {
    const ratio = (PROMETHEUS_BOUNDS_MICROS[i] as number) / (PROMETHEUS_BOUNDS_MICROS[i - 1] as number);
    assert.ok(ratio > 1 && ratio <= 1.28, `${PROMETHEUS_BOUNDS_MICROS[i - 1]} to ${PROMETHEUS_BOUNDS_MICROS[i]}`);
  }
});

test('cumulative counts equal a per-index reference from 1 µs to an hour, at the Prometheus bounds and at awkward ones', () => {
  const random = deviceRandom('buckets', 1);
  // Log-uniform over 1 µs .. 1 h: every HDR width region holds samples.
  const samples = Array.from({ length: 50_000 }, () => Math.exp(random() * Math.log(3_600_000_000)));
  const histogram = filled(samples);
  const awkward = [1, 2, 2047, 2048, 2049, 4095, 4096, 4097, 123_457, 1 << 22, (1 << 22) + 1, 999_999_999, 3_600_000_000];
  for (const bounds of [PROMETHEUS_BOUNDS_MICROS, awkward]) {
    const buckets = cumulativeBuckets(histogram, bounds);
    const expected = reference(histogram, bounds);
    assert.deepEqual(buckets.cumulative, expected.cumulative);
    assert.equal(buckets.count, samples.length);
    // _sum is HDR's mean × count: the same median-equivalent weighting.
    assert.ok(Math.abs(buckets.sumMicros - expected.sum) <= expected.sum * 1e-12, `${buckets.sumMicros} vs ${expected.sum}`);
    assert.ok(Math.abs(buckets.sumMicros - histogram.mean * histogram.totalCount) <= expected.sum * 1e-9);
  }
});

test('the buckets are monotonic and end at +Inf = count, for a run-like mix with timeouts', () => {
  const random = deviceRandom('buckets', 2);
  const samples = Array.from({ length: 20_000 }, (_, i) => (i % 500 === 0 ? 5_000_000 : 800 + random() * random() * 60_000));
  const histogram = filled(samples);
  const buckets = cumulativeBuckets(histogram, PROMETHEUS_BOUNDS_MICROS);
  buckets.cumulative.forEach((count, i) => assert.ok(i === 0 || count >= (buckets.cumulative[i - 1] ?? 0), `bucket ${i} decreased`));
  assert.ok((buckets.cumulative.at(-1) ?? 0) <= buckets.count);
  assert.equal(buckets.count, samples.length);
  assert.equal(buckets.cumulative.at(-1), samples.length, 'every sample is at most 10 s');
  assert.equal(buckets.cumulative[PROMETHEUS_BOUNDS_MICROS.indexOf(2_500_000)], samples.length - 40, 'the 5 s timeouts are above 2.5 s');
});

test('a recorded zero (outside minNonZeroValue) is still counted', () => {
  const histogram = createHistogram();
  histogram.recordValue(0);
  histogram.recordValue(700);
  const buckets = cumulativeBuckets(histogram, PROMETHEUS_BOUNDS_MICROS);
  assert.equal(buckets.cumulative[0], 1, 'le=0.0001: the zero');
  assert.equal(buckets.cumulative[PROMETHEUS_BOUNDS_MICROS.indexOf(800)], 2, 'le=0.0008: and the 0.7 ms');
  assert.equal(buckets.count, 2);
});
