import { test } from 'node:test';
import assert from 'node:assert/strict';
import { buildRows } from '../../../src/metrics/results.ts';
import { RunStats } from '../../../src/metrics/stats.ts';
import { liveTable } from '../../../src/ui/live-feed.ts';

test('the live table has the results\' numbers for every row, without encoding any histogram', () => {
  const stats = new RunStats();
  const data = stats.entryFor('POST', '/data');
  const publish = stats.entryFor('PUBLISH', 'telemetry');
  const connect = stats.entryFor('CONNECT', 'lamp');
  for (let i = 0; i < 2_000; i++) data.record(i % 50 === 0 ? 'failure' : 'ok', i % 50 === 0 ? 'HTTP 503' : undefined, 500 + ((i * 7919) % 20_000), -1, 10, false);
  for (let i = 0; i < 500; i++) publish.record(i % 100 === 0 ? 'timeout' : 'ok', undefined, 1_000 + i * 13, -1, 0, false);
  for (let i = 0; i < 20; i++) connect.record('ok', undefined, 3_000 + i, -1, 0, false);
  const full = buildRows(stats.entries, 10);
  const live = liveTable(stats.entries, 10, ['p95 < 50ms', 'PUBLISH: timeouts < 1', 'failures < 1%']);
  const view = (row: (typeof full.stats)[number]): object => ({ type: row.type, name: row.name, requests: row.requests, failures: row.failures, timeouts: row.timeouts, rps: row.rps, failuresPerS: row.failuresPerS, latencyMs: row.latencyMs });
  assert.deepEqual(live.stats, full.stats.map(view));
  assert.deepEqual(live.types, full.types.map(view));
  assert.deepEqual(live.total, view(full.total));
  assert.ok(!('histogram' in live.total), 'no encoded histogram goes to the page');
  assert.deepEqual(live.failures, [{ type: 'POST', name: '/data', error: 'HTTP 503', count: 40 }, { type: 'PUBLISH', name: 'telemetry', error: 'timeout', count: 5 }]);
  assert.deepEqual(live.thresholds.map((threshold) => [threshold.expr, threshold.ok]), [['p95 < 50ms', true], ['PUBLISH: timeouts < 1', false], ['failures < 1%', false]]);
});
