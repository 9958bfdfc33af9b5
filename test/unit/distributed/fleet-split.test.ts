import { test } from 'node:test';
import assert from 'node:assert/strict';
import fc from 'fast-check';
import { liveCeiling, splitAcrossLive } from '../../../src/distributed/fleet-split.ts';
import { ownedBelow } from '../../../src/engine/fleet/shard.ts';

test("with every worker live, the split is --shard's: each worker its stripe below the count", () => {
  fc.assert(
    fc.property(fc.integer({ min: 1, max: 8 }), fc.integer({ min: 0, max: 500 }), fc.integer({ min: 0, max: 500 }), (count, a, b) => {
      const size = Math.max(a, b);
      const devices = Math.min(a, b);
      const live = Array.from({ length: count }, (_, index) => index);
      const split = splitAcrossLive(devices, live, count, size);
      assert.equal(split.bound, devices);
      for (const index of live) assert.equal(split.shares.get(index), ownedBelow(devices, { index, count }));
    }),
  );
});

test('with workers lost, the live ones hold the whole count, each within its stripe of the fleet', () => {
  fc.assert(
    fc.property(fc.integer({ min: 2, max: 8 }), fc.integer({ min: 0, max: 300 }), fc.integer({ min: 1, max: 255 }), fc.integer({ min: 0, max: 1000 }), (count, size, mask, pick) => {
      const live = Array.from({ length: count }, (_, index) => index).filter((index) => (mask >> index) & 1);
      if (live.length === 0) return;
      const ceiling = liveCeiling(live, count, size);
      const devices = ceiling === 0 ? 0 : pick % (ceiling + 1);
      const split = splitAcrossLive(devices, live, count, size);
      assert.equal(
        [...split.shares.values()].reduce((sum, share) => sum + share, 0),
        devices,
      );
      assert.ok(split.bound <= size);
      for (const [index, share] of split.shares) assert.ok(share <= ownedBelow(size, { index, count }));
    }),
  );
});

test('past what the live workers can run, the count is refused naming the limit', () => {
  assert.throws(() => splitAcrossLive(13, [0, 1, 2], 3, 12), /devices: expected a whole number from 0 to 12 \(the fleet's size\), got 13/);
  assert.throws(() => splitAcrossLive(6, [0], 2, 10), /from 0 to 5 \(what the 1 live workers of 2 can run of the fleet's 10\), got 6/);
  assert.throws(() => splitAcrossLive(1.5, [0, 1], 2, 10), /got 1\.5/);
  assert.deepEqual([...splitAcrossLive(5, [0], 2, 10).shares], [[0, 5]]);
});
