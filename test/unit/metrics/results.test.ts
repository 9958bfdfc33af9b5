import { test } from 'node:test';
import assert from 'node:assert/strict';
import { decodeHistogram } from '../../../src/metrics/histogram.ts';
import { evaluateThresholds } from '../../../src/metrics/evaluate-thresholds.ts';
import { buildRows } from '../../../src/metrics/results.ts';
import { RunStats } from '../../../src/metrics/stats.ts';
import { parseThreshold } from '../../../src/profile/thresholds.ts';
import { resultsOfStats } from '../../helpers/results.ts';

function sampleResults(): ReturnType<typeof resultsOfStats> {
  const stats = new RunStats();
  const data = stats.entryFor('POST', '/data');
  for (let i = 1; i <= 1000; i++) data.record('ok', undefined, i * 10, -1, 11, false);
  data.record('timeout', 'timeout: no response headers in time', 10_000_000, -1, 0, false);
  data.record('failure', 'HTTP 503', 500, -1, 20, false);
  const greet = stats.entryFor('GET', '/greet');
  greet.record('ok', undefined, 2000, -1, 5, false);
  return resultsOfStats(stats, {
    version: '1.2.3',
    seed: '42',
    profilePath: 'profiles/p.yaml',
    profileSha256: 'abc',
    devices: { target: 3, started: 3, online: 3 },
    generator: { cpuPercent: 10, maxRssBytes: 1, eventLoopLagP99Ms: 1 },
  });
}

test('results follow fleetsim.results/v1: counts, rates, percentiles in ms, failures by reason', () => {
  const results = sampleResults();
  assert.equal(results.schema, 'fleetsim.results/v1');
  assert.equal(results.durationS, 10);
  assert.deepEqual(
    results.stats.map((row) => `${row.type} ${row.name}`),
    ['POST /data', 'GET /greet'],
  );
  const data = results.stats[0];
  assert.ok(data);
  assert.equal(data.requests, 1002);
  assert.equal(data.failures, 2);
  assert.equal(data.timeouts, 1);
  assert.equal(data.rps, 100.2);
  assert.equal(data.failuresPerS, 0.2);
  assert.equal(data.bytesIn, 11_020);
  // 1..1000 × 10 µs: the median is ~5 ms, within HDR's 3 significant digits.
  assert.ok(Math.abs((data.latencyMs.p50 ?? Number.NaN) - 5) < 0.01, String(data.latencyMs.p50));
  // The timeout is no answer: its 10 s stay out of the latency and are the failed attempts' time; the
  // 503 arrived, so it is an answer and counts in the latency, as in Locust and k6.
  assert.ok(Math.abs((data.latencyMs.max ?? Number.NaN) - 10) < 0.01, String(data.latencyMs.max));
  assert.ok(Math.abs((data.failedLatencyMs.max ?? Number.NaN) - 10_000) < 10);
  assert.equal(results.stats[1]?.failedLatencyMs.max, null);
  assert.ok(Math.abs((results.total.failedLatencyMs.p50 ?? Number.NaN) - 10_000) < 10, 'the total row carries the failed time too');
  assert.equal(results.total.name, 'Aggregated');
  assert.equal(results.total.requests, 1003);
  assert.deepEqual(results.failures.map((f) => [f.error, f.count]).sort(), [
    ['HTTP 503', 1],
    ['timeout: no response headers in time', 1],
  ]);
  // The encoded histogram decodes to the same distribution.
  const decoded = decodeHistogram(data.histogram);
  assert.equal(decoded.totalCount, 1001);
  assert.equal(decoded.getValueAtPercentile(50), Math.round((data.latencyMs.p50 ?? Number.NaN) * 1000));
});

test('thresholds parse k6-style expressions', () => {
  assert.deepEqual(parseThreshold('p95 < 200ms'), { expr: 'p95 < 200ms', selector: undefined, metric: 'p95', operator: '<', value: 200 });
  assert.equal(parseThreshold('p99<1.5s').value, 1500);
  assert.deepEqual(parseThreshold('POST /data: failures < 1%'), { expr: 'POST /data: failures < 1%', selector: 'POST /data', metric: 'failure_rate', operator: '<', value: 0.01 });
  assert.equal(parseThreshold('mean <= 3').metric, 'avg');
  assert.throws(() => parseThreshold('p97 < 3ms'), /unknown metric 'p97'/);
  assert.throws(() => parseThreshold('rps > 3ms'), /not a latency/);
  assert.throws(() => parseThreshold('p95 < 3%'), /is a latency/);
});

test('thresholds evaluate against rows; an unknown selector fails rather than passing silently', () => {
  const results = sampleResults();
  const evaluated = evaluateThresholds(results, ['failures < 1%', '/data: timeouts == 1', 'GET /greet: p50 < 1ms', 'rps > 100', '/nowhere: p95 < 1s']);
  assert.deepEqual(
    evaluated.map((t) => [t.ok, t.value]),
    [
      [true, 0.001994],
      [true, 1],
      [false, 2],
      [true, 100.3],
      [false, null],
    ],
  );
});

/** Results of a run that lasted `wallMs`, of which `activeMs` applied load. */
function resultsOver(stats: RunStats, wallMs: number, activeMs: number): ReturnType<typeof resultsOfStats> {
  const startedAt = new Date('2026-01-01T00:00:00Z');
  return resultsOfStats(stats, { startedAt, endedAt: new Date(startedAt.getTime() + wallMs), activeMs });
}

test('a run that measured nothing fails latency and rate thresholds instead of passing them with zeros', () => {
  const stats = new RunStats();
  stats.entryFor('POST', '/data');
  const empty = resultsOver(stats, 10_000, 8000);
  assert.equal(empty.activeS, 8);
  assert.equal(empty.durationS, 10);
  const evaluated = evaluateThresholds(empty, ['p95 < 200ms', 'failures < 1%', 'failures == 0', 'requests < 5']);
  assert.deepEqual(
    evaluated.map((t) => [t.ok, t.value, t.reason]),
    [
      [false, null, 'no requests to measure'],
      [false, null, 'no requests to measure'],
      [true, 0, undefined],
      [true, 0, undefined],
    ],
  );
});

test('rates divide by the time load was applied, not by the drain after it', () => {
  const stats = new RunStats();
  const data = stats.entryFor('POST', '/data');
  for (let i = 0; i < 100; i++) data.record('ok', undefined, 1000, -1, 1, false);
  const results = resultsOver(stats, 12_500, 10_000);
  assert.equal(results.total.rps, 10);
  assert.equal(results.durationS, 12.5);
});

test("results of one type: its aggregate row is the total under the type's name, encoded alike", () => {
  const stats = new RunStats();
  for (let i = 0; i < 300; i++)
    stats.entryFor(i % 3 === 0 ? 'GET' : 'POST', i % 2 === 0 ? '/a' : '/b').record(i % 17 === 0 ? 'failure' : 'ok', i % 17 === 0 ? 'HTTP 500' : undefined, 700 + i * 31, 600 + i * 31, 5, false);
  const rows = buildRows(stats.entries, 10);
  assert.equal(rows.types.length, 1);
  assert.deepEqual(rows.types[0], { ...rows.total, type: 'HTTP', name: 'HTTP Aggregated' });
  assert.ok(rows.total.histogram.length > 0 && rows.total.intendedLatencyMs !== undefined, 'the full rows: encoded, with the intended latency');
});

test("a fleet with sessions: one aggregate per type and the traffic's, each summing its own rows", () => {
  const stats = new RunStats();
  for (let i = 0; i < 100; i++) stats.entryFor('POST', '/data').record('ok', undefined, 1_000 + i, -1, 0, false);
  for (let i = 0; i < 50; i++) stats.entryFor('PUBLISH', 'telemetry').record('ok', undefined, 5_000 + i, -1, 0, false);
  for (let i = 0; i < 10; i++) stats.entryFor('CONNECT', 'lamp').record('ok', undefined, 90_000 + i, -1, 0, false);
  const rows = buildRows(stats.entries, 10);
  const byName = new Map(rows.types.map((row) => [row.name, row]));
  assert.deepEqual([...byName.keys()], ['CONNECT Aggregated', 'HTTP Aggregated', 'PUBLISH Aggregated', 'HTTP+PUBLISH Aggregated']);
  assert.deepEqual(
    rows.types.map((row) => row.requests),
    [10, 100, 50, 150],
  );
  const traffic = byName.get('HTTP+PUBLISH Aggregated');
  assert.equal(rows.bareThresholdsRead, 'HTTP+PUBLISH Aggregated');
  assert.deepEqual([traffic?.latencyMs.min, traffic?.latencyMs.max], [1, 5.049], 'no CONNECT latency in the traffic row');
  assert.equal(rows.total.requests, 160);
});
