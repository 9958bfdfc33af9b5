import { test } from 'node:test';
import assert from 'node:assert/strict';
import fc from 'fast-check';
import { createHistogram, meanMicros, recordMicros, summarize } from '../../../src/metrics/histogram.ts';

test("the one-pass mean is hdr-histogram-js's own, to the last bit, and summarize's mean is it rounded", () => {
  fc.assert(
    fc.property(fc.array(fc.integer({ min: 0, max: 120_000_000 }), { minLength: 1, maxLength: 400 }), (values) => {
      const histogram = createHistogram();
      for (const value of values) recordMicros(histogram, value);
      const hdrMean = (histogram as unknown as { mean: number }).mean;
      assert.equal(meanMicros(histogram), hdrMean);
      assert.equal(summarize(histogram).mean, Math.round((hdrMean / 1000) * 1000) / 1000);
    }),
    { numRuns: 300 },
  );
  assert.equal(meanMicros(createHistogram()), 0);
});

test('the one-pass mean matches the library in every bucket up to the hour a histogram holds', () => {
  fc.assert(
    fc.property(fc.array(fc.double({ min: 0, max: Math.log2(3_600_000_000), noNaN: true }), { minLength: 1, maxLength: 50 }), (exponents) => {
      const histogram = createHistogram();
      for (const exponent of exponents) recordMicros(histogram, 2 ** exponent);
      assert.equal(meanMicros(histogram), (histogram as unknown as { mean: number }).mean);
    }),
    { numRuns: 500 },
  );
});
