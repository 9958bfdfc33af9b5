import { test } from 'node:test';
import assert from 'node:assert/strict';
import { buildRows } from '../../../src/metrics/results.ts';
import { RunStats } from '../../../src/metrics/stats.ts';
import type { IntervalHealth } from '../../../src/metrics/history.ts';

const calm: IntervalHealth = { busyPercent: 20, lagP99Ms: 1 };

test('reset: rows, aggregates, failures and the history start again; the rows stay the same objects', () => {
  const stats = new RunStats();
  const data = stats.entryFor('POST', '/data');
  for (let i = 0; i < 10; i++) data.record('ok', undefined, 500_000, -1, 10, false);
  data.record('timeout', 'timeout', 5_000_000, -1, 0, false);
  stats.snapshot(1000, 1, 1, calm);
  data.record('ok', undefined, 400_000, -1, 10, false);
  stats.reset(1500);
  assert.equal(stats.history.points.length, 0, 'the history is forgotten');
  assert.equal(stats.entryFor('POST', '/data'), data, 'tasks keep recording into the same row');
  assert.equal(data.requests, 0);
  assert.equal(data.errors.size, 0);
  for (let i = 0; i < 4; i++) data.record('ok', undefined, 2000, -1, 10, false);
  const point = stats.snapshot(2500, 1, 1, calm);
  assert.equal(point.intervalS, 1, 'the first interval after the reset starts at the reset');
  assert.equal(point.total.requests, 4, 'what finished before the reset, in the interval going then, is not counted');
  assert.equal(point.total.cumulative.requests, 4, 'the aggregate starts again');
  assert.equal(point.recent?.rps, 4, 'the recent window starts again');
  const rows = buildRows(stats.entries, 1);
  assert.equal(rows.total.requests, 4);
  assert.equal(rows.total.failures, 0);
  assert.equal(rows.total.latencyMs.max, 2, 'the 500 ms answers before the reset are gone from the histogram');
});
