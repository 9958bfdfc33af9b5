import { test } from 'node:test';
import assert from 'node:assert/strict';
import { parse } from 'csv-parse/sync';
import { resultsOfStats } from '../../helpers/results.ts';
import type { Results } from '../../../src/metrics/results.ts';
import { RunStats } from '../../../src/metrics/stats.ts';
import { FAILURES_HEADER, HISTORY_HEADER, HISTORY_LOAD_HEADER, STATS_HEADER, failuresCsv, historyCsv, statsCsv } from '../../../src/report/csv-report.ts';

const AWKWARD = 'a, "quoted"\nname\rwith breaks';
const health = { busyPercent: 10, lagP99Ms: 1 };

/** Two intervals through the real stats: a row that only has samples in the first, and an awkward name. */
function results(): Results {
  const stats = new RunStats();
  const data = stats.entryFor('POST', '/data');
  const odd = stats.entryFor('GET', AWKWARD);
  // Resolved for a task that never finished an attempt: a row with no samples.
  stats.entryFor('GET', '/never');
  for (let i = 1; i <= 100; i++) data.record('ok', undefined, i * 100, -1, 10, false);
  odd.record('failure', 'HTTP 503, "Service Unavailable"\nretry later', 2_000, -1, 0, false);
  stats.snapshot(1000, 2, 3, health);
  data.record('ok', undefined, 50_000, -1, 30, false);
  stats.snapshot(2000, 3, 3, health);
  const partial = resultsOfStats(stats, { version: '0', endedAt: new Date('2026-01-01T00:00:02Z'), devices: { target: 3, started: 3, online: 3 } });
  return { ...partial, thresholds: [] };
}

const read = (text: string): string[][] => parse(text);

test('stats CSV: Locust header, a row per stat, Aggregated with an empty type, null for a latency-free row', () => {
  const run = results();
  const text = statsCsv(run);
  assert.ok(text.startsWith(`${STATS_HEADER.join(',')}\r\n`));
  const [header, ...rows] = read(text);
  assert.deepEqual(header, [...STATS_HEADER]);
  const byName = new Map(rows.map((row) => [row[1], row]));
  const data = byName.get('/data');
  assert.ok(data);
  assert.deepEqual(data.slice(0, 4), ['POST', '/data', '101', '0']);
  assert.equal(Number(data[4]), run.stats.find((row) => row.name === '/data')?.latencyMs.p50);
  assert.equal(Number(data[8]), Math.round((1030 / 101) * 1000) / 1000, 'average content size');
  assert.equal(data[21], data[7], '100% is the max');
  const never = byName.get('/never');
  assert.deepEqual(never?.slice(2, 9), ['0', '0', 'null', 'null', 'null', 'null', '0']);
  assert.deepEqual(never?.slice(11), Array(11).fill('null'));
  const total = rows.at(-1);
  assert.deepEqual(total?.slice(0, 4), ['', 'Aggregated', '102', '1']);
});

test('a name with a comma, a quote, a newline and a CR survives a write and a read back', () => {
  const run = results();
  const stats = read(statsCsv(run));
  assert.ok(stats.some((row) => row[0] === 'GET' && row[1] === AWKWARD));
  const history = read(historyCsv(run));
  assert.equal(history.filter((row) => row[3] === AWKWARD).length, 2);
  const failures = read(failuresCsv(run));
  assert.deepEqual(failures, [[...FAILURES_HEADER], ['GET', AWKWARD, 'HTTP 503, "Service Unavailable"\nretry later', '1']]);
});

test('history CSV: per interval a row per stat and Aggregated; interval percentiles, cumulative totals, null without samples', () => {
  const run = results();
  const [header, ...rows] = read(historyCsv(run));
  assert.deepEqual(header, [...HISTORY_HEADER, ...HISTORY_LOAD_HEADER]);
  assert.equal(rows.length, 2 * 4);
  const column = (name: (typeof HISTORY_HEADER)[number]): number => HISTORY_HEADER.indexOf(name);
  const [first, second] = run.history;
  assert.ok(first && second);
  assert.equal(rows[0]?.[column('Timestamp')], String(Math.floor(first.timestamp / 1000)));
  assert.equal(rows[0]?.[column('User Count')], '2');
  assert.equal(rows[4]?.[column('User Count')], '3');
  // The awkward row had no attempt in the second interval: its percentiles are null, its totals stay.
  const idle = rows.find((row, i) => i >= 4 && row[3] === AWKWARD);
  assert.ok(idle);
  assert.equal(idle[column('50%')], 'null');
  assert.equal(idle[column('100%')], 'null');
  assert.equal(idle[column('Total Request Count')], '1');
  assert.equal(idle[column('Total Failure Count')], '1');
  assert.equal(Number(idle[column('Total Median Response Time')]), 2);
  const aggregated = rows[7];
  assert.ok(aggregated);
  assert.deepEqual([aggregated[2], aggregated[3]], ['', 'Aggregated']);
  assert.equal(Number(aggregated[column('Requests/s')]), second.total.rps);
  assert.equal(Number(aggregated[column('50%')]), 50, 'the second interval alone: one 50 ms sample');
  assert.equal(aggregated[column('Total Request Count')], '102');
  assert.equal(Number(aggregated[column('Total Max Response Time')]), 50);
  assert.equal(Number(aggregated[column('Total Average Content Size')]), Math.round((1030 / 102) * 1000) / 1000);
});
