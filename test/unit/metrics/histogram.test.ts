import { test } from 'node:test';
import assert from 'node:assert/strict';
import seedrandom from 'seedrandom';
import { addEncoded } from '../../../src/metrics/histogram-decode.ts';
import { createHistogram, encodeHistogram, meanMicros, NO_LATENCY, PERCENTILES, recordMicros, restoreExtremes, summarize } from '../../../src/metrics/histogram.ts';

test('one pass gives every percentile HdrHistogram gives, clamped to the largest value recorded', () => {
  const random = seedrandom('histogram');
  for (const shape of ['uniform', 'long tail', 'few samples', 'one value']) {
    const histogram = createHistogram();
    const count = shape === 'few samples' ? 7 : shape === 'one value' ? 50 : 20_000;
    for (let i = 0; i < count; i++) {
      const micros = shape === 'one value' ? 4627 : shape === 'long tail' ? Math.exp(random() * 14) : 1 + random() * 50_000;
      recordMicros(histogram, micros);
    }
    const summary = summarize(histogram);
    const max = histogram.maxValue;
    for (const [key, percentile] of PERCENTILES) {
      const expected = Math.round(Math.min(max, histogram.getValueAtPercentile(percentile))) / 1000;
      assert.equal(summary[key], expected, `${shape} ${key}`);
      assert.ok((summary[key] ?? Infinity) <= (summary.max ?? -Infinity), `${shape}: ${key} above max`);
    }
    // Bit for bit the library's own mean: the same values summed in the same order.
    assert.equal(meanMicros(histogram), histogram.mean, `${shape} mean`);
    assert.equal(summary.mean, Math.round(histogram.mean) / 1000, `${shape} summary mean`);
  }
});

test('a bucket whose upper edge lies above the max does not lift a percentile over it', () => {
  const histogram = createHistogram();
  // 4,624 µs lies in a bucket whose highest equivalent value is above it: unclamped, p95 reads above max.
  for (let i = 0; i < 100; i++) recordMicros(histogram, 4624);
  assert.ok(histogram.getValueAtPercentile(95) > histogram.maxValue);
  const summary = summarize(histogram);
  assert.equal(summary.p95, summary.max);
  assert.equal(summary.max, 4.624);
});

test('an empty histogram summarises to nulls, never zeros', () => {
  const summary = summarize(createHistogram());
  assert.deepEqual(new Set(Object.values(summary)), new Set([null]));
  assert.equal(Object.keys(summary).length, PERCENTILES.length + 3);
});

test("the one-pass mean stays the library's after a merge with restored extremes, and is 0 when empty", () => {
  const random = seedrandom('mean');
  const merged = createHistogram();
  let min = Infinity;
  let max = 0;
  for (let shard = 0; shard < 3; shard++) {
    const part = createHistogram();
    for (let i = 0; i < 5000; i++) recordMicros(part, Math.exp(random() * 12));
    min = Math.min(min, part.minNonZeroValue);
    max = Math.max(max, part.maxValue);
    addEncoded(merged, encodeHistogram(part));
  }
  restoreExtremes(merged, min / 1000, max / 1000);
  assert.equal(meanMicros(merged), merged.mean);
  assert.equal(meanMicros(createHistogram()), 0);
});

test('PERCENTILES computes every percentile the results contract promises, and no other', () => {
  // NO_LATENCY is typed by the contract (src/contracts/latency.ts), so it names every promised key.
  const promised = Object.keys(NO_LATENCY).filter((key) => !['min', 'mean', 'max'].includes(key));
  assert.deepEqual(PERCENTILES.map(([key]) => key).sort(), promised.sort());
});
