import assert from 'node:assert/strict';
import { test } from 'node:test';
import { mergeKeepalive } from '../../../src/distributed/merge-summaries.ts';

const shard = (index: number, keepalive?: { checks: number; pingsSent: number; lateP50Ms: number; lateP99Ms: number; lateMaxMs: number }) => ({
  shard: { index, count: 3 },
  startedAt: '2026-12-07T00:00:00.000Z',
  endedAt: '2026-12-07T00:01:00.000Z',
  ...(keepalive ? { keepalive } : {}),
});

test("keepalive blocks merge: checks and PINGREQs summed, lateness the worst shard's; none without any", () => {
  const merged = mergeKeepalive([
    shard(0, { checks: 100, pingsSent: 4, lateP50Ms: 1, lateP99Ms: 20, lateMaxMs: 40 }),
    shard(1, { checks: 50, pingsSent: 1, lateP50Ms: 3, lateP99Ms: 900, lateMaxMs: 1_200 }),
    shard(2),
  ]);
  assert.deepEqual(merged, { checks: 150, pingsSent: 5, lateP50Ms: 3, lateP99Ms: 900, lateMaxMs: 1_200 });
  assert.equal(mergeKeepalive([shard(0), shard(1)]), undefined);
});
