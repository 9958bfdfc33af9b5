import { test } from 'node:test';
import assert from 'node:assert/strict';
import { evaluateThresholds } from '../../../src/metrics/evaluate-thresholds.ts';
import { buildRows } from '../../../src/metrics/results.ts';
import { RunStats } from '../../../src/metrics/stats.ts';
import { liveTable, rowView } from '../../../src/ui/live-feed.ts';
import { resultsOfStats } from '../../helpers/results.ts';

test("the live table has the results' numbers for every row, without encoding any histogram", () => {
  const stats = new RunStats();
  const data = stats.entryFor('POST', '/data');
  const publish = stats.entryFor('PUBLISH', 'telemetry');
  const connect = stats.entryFor('CONNECT', 'lamp');
  for (let i = 0; i < 2_000; i++) data.record(i % 50 === 0 ? 'failure' : 'ok', i % 50 === 0 ? 'HTTP 503' : undefined, 500 + ((i * 7919) % 20_000), -1, 10, false);
  for (let i = 0; i < 500; i++) publish.record(i % 100 === 0 ? 'timeout' : 'ok', undefined, 1_000 + i * 13, -1, 0, false);
  for (let i = 0; i < 20; i++) connect.record('ok', undefined, 3_000 + i, -1, 0, false);
  const full = buildRows(stats.entries, 10);
  const live = liveTable(stats.entries, 10, ['p95 < 50ms', 'PUBLISH: timeouts < 1', 'failures < 1%']);
  assert.deepEqual(live.stats, full.stats.map(rowView));
  assert.deepEqual(live.types, full.types.map(rowView));
  assert.deepEqual(live.total, rowView(full.total));
  assert.deepEqual(Object.keys(live.total.latencyMs), ['min', 'mean', 'max', 'p50', 'p90', 'p95', 'p99'], 'the latencies the page shows, and no others');
  assert.equal(live.total.latencyMs.p99, full.total.latencyMs.p99);
  assert.ok(!('histogram' in live.total), 'no encoded histogram goes to the page');
  assert.deepEqual(live.failures, [
    { type: 'POST', name: '/data', error: 'HTTP 503', count: 40 },
    { type: 'PUBLISH', name: 'telemetry', error: 'timeout', count: 5 },
  ]);
  assert.deepEqual(
    live.thresholds.map((threshold) => [threshold.expr, threshold.ok]),
    [
      ['p95 < 50ms', true],
      ['PUBLISH: timeouts < 1', false],
      ['failures < 1%', false],
    ],
  );
});

test('failures with equal counts stand in the same order on the live page and in the results', () => {
  const stats = new RunStats();
  const fail = (type: string, name: string, error: string, times: number): void => {
    const entry = stats.entryFor(type, name);
    for (let i = 0; i < times; i++) entry.record('failure', error, 1_000, -1, 0, false);
  };
  // Reasons first seen out of order, and one name under two types: ties the order of occurrence must not decide.
  fail('POST', '/data', 'HTTP 503', 3);
  fail('POST', '/data', 'HTTP 500', 3);
  fail('PUBLISH', 'alarm', 'timeout', 3);
  fail('GET', '/data', 'HTTP 500', 3);
  fail('GET', '/ota', 'HTTP 404', 5);
  const results = resultsOfStats(stats);
  const live = liveTable(stats.entries, 10, []);
  const listed = (failures: typeof live.failures): string[] => failures.map((failure) => `${failure.count} ${failure.type} ${failure.name} ${failure.error}`);
  assert.deepEqual(listed(live.failures), ['5 GET /ota HTTP 404', '3 GET /data HTTP 500', '3 POST /data HTTP 500', '3 POST /data HTTP 503', '3 PUBLISH alarm timeout']);
  assert.deepEqual(listed(results.failures), listed(live.failures));
});

test('a live threshold on a percentile the page does not show is judged on the same value as the results', () => {
  const stats = new RunStats();
  const data = stats.entryFor('POST', '/data');
  for (let i = 0; i < 5_000; i++) data.record('ok', undefined, 500 + ((i * 7919) % 40_000), i * 10, 10, false);
  const expressions = ['p999 < 30ms', 'p66 < 30ms', 'POST /data: p9999 < 100ms', 'HTTP: p75 > 1ms'];
  const live = liveTable(stats.entries, 10, expressions);
  const full = evaluateThresholds(buildRows(stats.entries, 10), expressions);
  // The page gets each value as the results judge it, and the same value with its unit for show.
  assert.deepEqual(
    live.thresholds.map(({ shown: _shown, ...threshold }) => threshold),
    full,
  );
  assert.ok(live.thresholds.every((threshold) => threshold.shown.endsWith(' ms')));
  for (const threshold of live.thresholds) assert.equal(typeof threshold.value, 'number', threshold.expr);
  assert.deepEqual(
    live.thresholds.map((threshold) => threshold.ok),
    [false, true, true, true],
  );
});
