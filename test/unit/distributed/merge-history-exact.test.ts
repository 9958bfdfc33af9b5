import { test } from 'node:test';
import assert from 'node:assert/strict';
import { historyTable, mergeHistories } from '../../../src/distributed/merge-history.ts';
import { foldPoints } from '../../../src/metrics/history.ts';
import type { HistoryPoint } from '../../../src/metrics/history.ts';
import { RunStats } from '../../../src/metrics/stats.ts';

const calm = { busyPercent: 10, lagP99Ms: 1 };

/** Two intervals of one stats, at fixed wall-clock seconds so shards line up whatever the clock did. */
function intervals(stats: RunStats, latencies: readonly (readonly number[])[]): HistoryPoint[] {
  return latencies.map((micros, i) => {
    const entry = stats.entryFor('POST', '/data');
    for (const value of micros) entry.record('ok', undefined, value, -1, 0, false);
    return { ...stats.snapshot((i + 1) * 1000, 1, 1, calm), timestamp: 1_700_000_000_000 + (i + 1) * 1000 };
  });
}

// Shard 0 is fast in both intervals; shard 1 is slow in the second: the worst shard's p50 there
// would be shard 1's (9 ms), the fleet's is 2 ms.
const SHARD_0 = [
  [1000, 1100, 1200, 1300],
  [2000, 2000, 2000, 2000, 2000, 2000],
];
const SHARD_1 = [
  [1050, 1150],
  [9000, 9500],
];

test("a shard's history rows carry their interval histogram; a whole run's do not", () => {
  const shard = new RunStats();
  shard.intervalHistograms = true;
  const [first] = intervals(shard, SHARD_0);
  assert.equal(typeof first?.total.histogram, 'string');
  assert.equal(typeof first?.rows[0]?.histogram, 'string');
  const whole = intervals(new RunStats(), SHARD_0);
  assert.equal(whole[0]?.total.histogram, undefined);
});

test("merged intervals' percentiles equal one process's over the same samples, not the worst shard's", () => {
  const shards = [SHARD_0, SHARD_1].map((latencies) => {
    const stats = new RunStats();
    stats.intervalHistograms = true;
    return intervals(stats, latencies);
  });
  const merged = mergeHistories(
    shards.map((history) => historyTable(history)),
    1_700_000_000_000,
  );
  const one = intervals(
    new RunStats(),
    SHARD_0.map((micros, i) => [...micros, ...(SHARD_1[i] ?? [])]),
  );
  assert.equal(merged.length, 2);
  for (let i = 0; i < 2; i++) {
    assert.deepEqual(merged[i]?.total.latencyMs, one[i]?.total.latencyMs, `interval ${i}`);
    assert.deepEqual(merged[i]?.rows[0]?.latencyMs, one[i]?.rows[0]?.latencyMs, `interval ${i} row`);
  }
  assert.equal(merged[1]?.total.latencyMs.p50, 2);
  // Without the histograms (older results) the same merge falls back to the worst shard's.
  const withoutHistogram = ({ histogram: _dropped, ...row }: HistoryPoint['total']): HistoryPoint['total'] => row;
  const bare = shards.map((history) => history.map((point): HistoryPoint => ({ ...point, total: withoutHistogram(point.total) })));
  const worst = mergeHistories(
    bare.map((history) => historyTable(history)),
    1_700_000_000_000,
  );
  assert.ok((worst[1]?.total.latencyMs.p50 ?? 0) > 9);
});

test('folding two intervals with histograms keeps them exact', () => {
  const stats = new RunStats();
  stats.intervalHistograms = true;
  const [a, b] = intervals(stats, SHARD_0);
  const folded = foldPoints(a as HistoryPoint, b as HistoryPoint);
  const whole = new RunStats();
  const [one] = intervals(whole, [[...(SHARD_0[0] ?? []), ...(SHARD_0[1] ?? [])]]);
  assert.deepEqual(folded.total.latencyMs, one?.total.latencyMs);
  assert.equal(typeof folded.total.histogram, 'string');
});
