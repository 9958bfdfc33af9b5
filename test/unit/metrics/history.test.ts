import { test } from 'node:test';
import assert from 'node:assert/strict';
import { evaluateThresholds } from '../../../src/metrics/evaluate-thresholds.ts';
import { buildResults, buildRows } from '../../../src/metrics/results.ts';
import { RunStats } from '../../../src/metrics/stats.ts';
import type { IntervalHealth } from '../../../src/metrics/history.ts';

const calm: IntervalHealth = { busyPercent: 20, lagP99Ms: 1 };
const saturated: IntervalHealth = { busyPercent: 97, lagP99Ms: 80 };

test('every interval becomes a point with each row, each type and the total, rates over the interval', () => {
  const stats = new RunStats();
  const data = stats.entryFor('POST', '/data');
  const connect = stats.entryFor('CONNECT', 'lamp');
  for (let i = 0; i < 10; i++) data.record('ok', undefined, 1000 + i, -1, 10, false);
  data.record('timeout', 'timeout', 5000, -1, 0, false);
  connect.record('ok', undefined, 80_000, -1, 0, false);
  const first = stats.snapshot(1000, 3, 5, calm);
  const second = stats.snapshot(2000, 5, 5, calm);
  assert.equal(first.atS, 1);
  assert.equal(first.folded, 1);
  assert.equal(first.devicesOnline, 3);
  assert.equal(first.total.requests, 12);
  assert.equal(first.total.failures, 1);
  assert.equal(first.total.timeouts, 1);
  assert.equal(first.total.rps, 12);
  assert.deepEqual(
    first.types.map((row) => [row.name, row.requests]),
    [
      ['HTTP Aggregated', 11],
      ['CONNECT Aggregated', 1],
    ],
  );
  const row = first.rows.find((candidate) => candidate.name === '/data');
  // The timeout got no answer: interval latency is that of answers only.
  assert.equal(row?.latencyMs.max, 1.009);
  assert.equal(row?.cumulative.bytesIn, 100);
  // Nothing finished in the second interval: counts are 0, latency is null, totals carry on.
  assert.equal(second.total.requests, 0);
  assert.equal(second.total.latencyMs.p50, null);
  assert.equal(second.total.cumulative.requests, 12);
  assert.equal(second.total.cumulative.latencyMs.max, 80);
  assert.equal(stats.history.points.length, 2);
});

test('saturated intervals are marked, counted, and left out of the unsaturated latency', () => {
  const stats = new RunStats();
  const data = stats.entryFor('GET', '/x');
  for (let i = 0; i < 100; i++) data.record('ok', undefined, 1000, -1, 0, false);
  assert.equal(stats.snapshot(1000, 1, 1, calm).saturated, false);
  for (let i = 0; i < 50; i++) data.record('ok', undefined, 300_000, -1, 0, false);
  assert.equal(stats.snapshot(2000, 1, 1, saturated).saturated, true);
  assert.equal(stats.snapshot(2500, 1, 1, { busyPercent: 10, lagP99Ms: 55 }).saturated, true);
  // The stop cuts the last interval short: a busy share over 100 ms is not judged.
  assert.equal(stats.snapshot(2600, 1, 1, saturated).saturated, false);
  const split = stats.saturation;
  assert.equal(split.intervals, 2);
  assert.equal(split.seconds, 1.5);
  assert.equal(split.requests, 50);
  assert.equal(split.unsaturatedLatency.totalCount, 100);
  assert.equal(split.unsaturatedLatency.maxValue, 1000);
});

test('a long run keeps a bounded history: recent points at full resolution, older ones folded with their counts kept', () => {
  const stats = new RunStats({ recent: 10, max: 30 });
  const data = stats.entryFor('GET', '/x');
  let requests = 0;
  for (let second = 1; second <= 500; second++) {
    for (let i = 0; i < second % 7; i++) data.record('ok', undefined, 100 * second, -1, 0, false);
    requests += second % 7;
    stats.snapshot(second * 1000, 1, 1, second === 3 ? saturated : calm);
  }
  const points = stats.history.points;
  assert.ok(points.length <= 30, String(points.length));
  assert.deepEqual(
    points.slice(-10).map((point) => point.folded),
    new Array(10).fill(1),
  );
  assert.equal(
    points.reduce((sum, point) => sum + point.total.requests, 0),
    requests,
  );
  assert.equal(
    points.reduce((sum, point) => sum + point.folded, 0),
    500,
  );
  assert.equal(Math.round(points.reduce((sum, point) => sum + point.intervalS, 0)), 500);
  assert.equal(points.at(-1)?.atS, 500);
  assert.ok(points[0]?.saturated, 'a folded point that holds a saturated interval stays marked');
  for (const point of points) {
    assert.equal(point.total.rps, Math.round((point.total.requests / point.intervalS) * 1000) / 1000);
    const max = point.total.latencyMs.max;
    if (max !== null) assert.ok((point.total.latencyMs.p99 ?? 0) <= max);
  }
});

function lampResults(): ReturnType<typeof buildResults> {
  const stats = new RunStats();
  const publish = stats.entryFor('PUBLISH', 'lamp/changed');
  for (let i = 0; i < 100; i++) publish.record('ok', undefined, 2000, -1, 0, false);
  const connect = stats.entryFor('CONNECT', 'lamp');
  for (let i = 0; i < 10; i++) connect.record('ok', undefined, 90_000, -1, 0, false);
  return buildResults({
    version: '1',
    seed: '1',
    profilePath: 'p.yaml',
    profileSha256: '',
    startedAt: new Date(0),
    endedAt: new Date(10_000),
    stopReason: 'duration',
    devices: { target: 10, started: 10, online: 10 },
    entries: stats.entries,
    history: stats.history.points,
    saturation: stats.saturation,
    generator: { cpuPercent: 1, maxRssBytes: 1, eventLoopLagP99Ms: 1 },
    warnings: [],
  });
}

test('each row type has its own aggregate, and a bare threshold reads the traffic, not CONNECT', () => {
  const results = lampResults();
  assert.deepEqual(
    results.types.map((row) => [row.name, row.requests]),
    [
      ['CONNECT Aggregated', 10],
      ['PUBLISH Aggregated', 100],
    ],
  );
  assert.equal(results.bareThresholdsRead, 'PUBLISH Aggregated');
  assert.equal(results.total.requests, 110);
  const evaluated = evaluateThresholds(results, ['p95 < 50ms', 'PUBLISH: p99 < 50ms', 'CONNECT: p95 < 50ms', 'Aggregated: p99 < 50ms', 'lamp/changed: requests == 100']);
  assert.deepEqual(
    evaluated.map((t) => [t.row, t.ok, t.value]),
    [
      ['PUBLISH Aggregated', true, 2],
      ['PUBLISH Aggregated', true, 2],
      ['CONNECT Aggregated', false, 90],
      ['Aggregated', false, 90],
      ['PUBLISH lamp/changed', true, 100],
    ],
  );
});

test('a window holds exactly the intervals closed while it was open, with the generator at its worst', () => {
  const stats = new RunStats();
  const data = stats.entryFor('GET', '/x');
  for (let i = 0; i < 10; i++) data.record('ok', undefined, 900_000, -1, 0, false);
  stats.snapshot(1000, 1, 1, calm);
  const window = stats.openWindow();
  for (let i = 0; i < 30; i++) data.record(i < 3 ? 'failure' : 'ok', i < 3 ? 'HTTP 503' : undefined, 2000, -1, 0, false);
  stats.snapshot(2000, 1, 1, calm);
  for (let i = 0; i < 20; i++) data.record('ok', undefined, 4000, -1, 0, false);
  stats.snapshot(3000, 1, 1, { busyPercent: 95, lagP99Ms: 12 });
  stats.closeWindow(window);
  data.record('ok', undefined, 700_000, -1, 0, false);
  stats.snapshot(4000, 1, 1, calm);
  const rows = buildRows(window.entries, window.seconds);
  assert.equal(rows.total.requests, 50);
  assert.equal(rows.total.failures, 3);
  assert.equal(rows.total.rps, 25);
  assert.equal(rows.total.latencyMs.max, 4);
  assert.equal(window.intervals, 2);
  assert.equal(window.saturatedIntervals, 1);
  assert.equal(window.maxBusyPercent, 95);
  assert.equal(window.busyPercent, 57.5);
  assert.equal(evaluateThresholds(rows, ['failures < 5%'])[0]?.value, 0.06);
});
