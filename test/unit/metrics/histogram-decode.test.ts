import { test } from 'node:test';
import assert from 'node:assert/strict';
import * as hdr from 'hdr-histogram-js';
import { addEncoded } from '../../../src/metrics/histogram-decode.ts';
import { createHistogram, decodeHistogram, encodeHistogram, recordMicros, summarize } from '../../../src/metrics/histogram.ts';
import { seededSamples } from '../../helpers/samples.ts';

test('addEncoded adds exactly what the library decodes, bucket by bucket', () => {
  const random = seededSamples(9);
  const sums = [createHistogram(), createHistogram()] as const;
  for (let shard = 0; shard < 5; shard++) {
    const histogram = createHistogram();
    // Wide values, long zero runs and an hour-long outlier exercise every varint length.
    for (let i = 0; i < 500 + shard * 300; i++) recordMicros(histogram, random(shard % 4) * (shard + 1));
    recordMicros(histogram, 3_599_000_000);
    recordMicros(histogram, 1);
    const encoded = encodeHistogram(histogram);
    addEncoded(sums[0], encoded);
    sums[1].add(decodeHistogram(encoded));
  }
  const [fast, library] = sums;
  assert.equal(fast.totalCount, library.totalCount);
  assert.deepEqual(summarize(fast), summarize(library));
  const counts = (histogram: typeof fast): number[] => {
    const js = histogram as hdr.JsHistogram;
    return Array.from({ length: js.countsArrayLength }, (_, i) => js.getCountAtIndex(i));
  };
  assert.deepEqual(counts(fast), counts(library));
});

test('addEncoded of an empty histogram changes nothing; other layouts go the library way', () => {
  const target = createHistogram();
  recordMicros(target, 1500);
  addEncoded(target, encodeHistogram(createHistogram()));
  assert.equal(target.totalCount, 1);
  const other = hdr.build({ numberOfSignificantValueDigits: 2, highestTrackableValue: 1_000_000, useWebAssembly: false });
  other.recordValue(700);
  addEncoded(target, hdr.encodeIntoCompressedBase64(other));
  assert.equal(target.totalCount, 2);
  assert.throws(() => addEncoded(target, 'bm90IGEgaGlzdG9ncmFt'), /not an HdrHistogram V2 compressed encoding/);
});
