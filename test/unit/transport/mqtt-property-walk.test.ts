import assert from 'node:assert/strict';
import { test } from 'node:test';
import fc from 'fast-check';
import { MalformedPacketError, walkProperties } from '../../../src/transport/mqtt/mqtt-codec.ts';
import { PropertyWriter, PublishProperty, readUserProperty } from '../../../src/transport/mqtt/mqtt-publish-extras.ts';

/** A list as it arrives: its length as a variable byte integer, then its contents. */
function withLength(contents: Buffer): Buffer {
  const head: number[] = [];
  let rest = contents.length;
  do {
    head.push((rest & 0x7f) | (rest > 0x7f ? 0x80 : 0));
    rest >>= 7;
  } while (rest > 0);
  return Buffer.concat([Buffer.from(head), contents]);
}

/** Runs `read` and says how it ended: a value, or the malformed-packet error; anything else fails the property. */
function endsCleanly(read: () => unknown): boolean {
  try {
    read();
    return true;
  } catch (error) {
    if (error instanceof MalformedPacketError) return true;
    throw error;
  }
}

const wellFormed = fc
  .array(
    fc.oneof(
      fc.tuple(fc.constant('user' as const), fc.string({ maxLength: 12 }), fc.string({ maxLength: 12 })),
      fc.tuple(fc.constant('bytes' as const), fc.string({ maxLength: 20 }), fc.constant('')),
      fc.tuple(fc.constant('expiry' as const), fc.nat(), fc.constant('')),
    ),
    { maxLength: 6 },
  )
  .map((parts) => {
    const writer = new PropertyWriter();
    for (const [kind, a, b] of parts) {
      if (kind === 'user') writer.user(a, b);
      else if (kind === 'bytes') writer.bytes(PublishProperty.ContentType, a, 'content type');
      else writer.uint32(PublishProperty.MessageExpiry, a);
    }
    return writer.finish() ?? Buffer.alloc(0);
  });

test('any bytes: the walker returns the list end inside the buffer or throws the malformed-packet error', () => {
  fc.assert(
    fc.property(fc.uint8Array({ maxLength: 64 }), (bytes) => {
      const buffer = Buffer.from(bytes);
      return (
        endsCleanly(() => {
          const end = walkProperties(buffer, 0, buffer.length, () => false);
          assert.ok(end <= buffer.length);
        }) && endsCleanly(() => readUserProperty(buffer, 'fleetsim-delivery'))
      );
    }),
    { numRuns: 2_000 },
  );
});

test('a well-formed list cut anywhere: the malformed-packet error, never a RangeError', () => {
  fc.assert(
    fc.property(wellFormed, fc.nat(), (contents, at) => {
      const length = at % (contents.length + 1);
      // Cut with its length kept (the list runs past the packet), and cut with its length fixed up (a property runs past the list).
      const cuts = [withLength(contents).subarray(0, length), withLength(contents.subarray(0, length))];
      return cuts.every((cut) => endsCleanly(() => readUserProperty(cut, 'k')) && endsCleanly(() => walkProperties(cut, 0, cut.length)));
    }),
    { numRuns: 2_000 },
  );
});

test('a well-formed list reads back: the walker visits every property and ends at the list end', () => {
  fc.assert(
    fc.property(wellFormed, (contents) => {
      const list = withLength(contents);
      let visited = 0;
      assert.equal(
        walkProperties(list, 0, list.length, () => void visited++),
        list.length,
      );
      assert.equal(visited > 0, list.length > 1);
    }),
  );
});

test('a user property cut inside its value is malformed, as the broker sent it', () => {
  // The list claims 9 bytes and holds them, but the value inside claims 16.
  const list = withLength(Buffer.from([PublishProperty.User, 0x00, 0x03, 0x6b, 0x65, 0x79, 0x00, 0x10, 0x76]));
  assert.throws(() => readUserProperty(list, 'key'), MalformedPacketError);
  assert.throws(() => readUserProperty(Buffer.from([0x02, PublishProperty.User, 0x00]), 'key'), /property 38 cut short/);
  assert.equal(readUserProperty(withLength(new PropertyWriter().user('key', 'v').finish() as Buffer), 'key'), 'v');
});
