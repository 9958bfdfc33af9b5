import { inflateSync } from 'node:zlib';
import * as hdr from 'hdr-histogram-js';
import type { JsHistogram } from 'hdr-histogram-js';
import type { LatencyHistogram } from './histogram.ts';

/** HdrHistogram's V2 encodings: the compressed wrapper and the plain one inside it. */
const V2_COMPRESSED_COOKIE = 0x1c849304;
const V2_COOKIE = 0x1c849303;
const V2_HEADER_BYTES = 40;

/**
 * Adds an encoded histogram (`encodeHistogram`'s output) into `target`, walking only the encoded
 * counts: decoding through the library builds a whole histogram (an array of every bucket) per
 * encoding and then adds all its buckets, which dominates merging thousands of shard rows.
 * Encodings of another layout (other digits or range) go the library's way.
 */
export function addEncoded(target: LatencyHistogram, encoded: string): void {
  const js = target as JsHistogram;
  const data = Buffer.from(encoded, 'base64');
  if (data.length < 8 || (data.readInt32BE(0) & ~0xf0) !== V2_COMPRESSED_COOKIE) throw new Error('not an HdrHistogram V2 compressed encoding');
  const plain = inflateSync(data.subarray(8, 8 + data.readInt32BE(4)));
  const sameLayout =
    plain.length >= V2_HEADER_BYTES &&
    (plain.readInt32BE(0) & ~0xf0) === V2_COOKIE &&
    plain.readInt32BE(12) === js.numberOfSignificantValueDigits &&
    Number(plain.readBigInt64BE(16)) === js.lowestDiscernibleValue &&
    Number(plain.readBigInt64BE(24)) === js.highestTrackableValue;
  if (!sameLayout) {
    target.add(hdr.decodeFromCompressedBase64(encoded, 32, false));
    return;
  }
  const end = Math.min(plain.length, V2_HEADER_BYTES + plain.readInt32BE(4));
  let position = V2_HEADER_BYTES;
  let index = 0;
  let total = 0;
  let lowest = -1;
  let highest = -1;
  while (position < end) {
    // ZigZag LEB128, as hdr-histogram-js writes it: a negative value is a run of empty buckets.
    let byte = plain[position++] as number;
    let value = byte & 0x7f;
    let scale = 128;
    while ((byte & 0x80) !== 0 && scale <= 2 ** 56) {
      byte = plain[position++] as number;
      value += (byte & 0x7f) * scale;
      scale *= 128;
    }
    const count = value % 2 === 0 ? value / 2 : -(value + 1) / 2;
    if (count < 0) {
      index -= count;
      continue;
    }
    if (count > 0) {
      if (index >= js.countsArrayLength) throw new Error('an encoded histogram holds a bucket beyond its range');
      js.addToCountAtIndex(index, count);
      total += count;
      if (lowest < 0 && index > 0) lowest = index;
      highest = index;
    }
    index++;
  }
  if (total === 0) return;
  js.setTotalCount(js.totalCount + total);
  js.maxValue = Math.max(js.maxValue, js.highestEquivalentValue(js.valueFromIndex(highest)));
  if (lowest >= 0) js.minNonZeroValue = Math.min(js.minNonZeroValue, js.valueFromIndex(lowest));
}
