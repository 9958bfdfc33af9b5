import { test } from 'node:test';
import assert from 'node:assert/strict';
import { createHistogram, recordMicros } from '../../../src/metrics/histogram.ts';
import { RecentWindow } from '../../../src/metrics/recent-window.ts';

function interval(latenciesMs: readonly number[]): ReturnType<typeof createHistogram> {
  const histogram = createHistogram();
  for (const ms of latenciesMs) recordMicros(histogram, ms * 1000);
  return histogram;
}

test('a fleet paced every 5 s reads a steady rate over a 10-s window where its 1-s intervals read 25, 25, 0, 0, 0', () => {
  const window = new RecentWindow(10);
  const perSecond = [25, 25, 0, 0, 0];
  const rates: number[] = [];
  let lastLatency: (number | null)[] = [];
  for (let second = 0; second < 30; second++) {
    const requests = perSecond[second % 5] ?? 0;
    const recent = window.push(1, requests, 0, interval(Array.from({ length: requests }, (_, i) => 1 + i)));
    rates.push(recent.rps);
    lastLatency = [recent.latencyMs.p50, recent.latencyMs.p95];
    if (second >= 9) assert.equal(recent.windowS, 10);
    else assert.equal(recent.windowS, second + 1);
  }
  assert.deepEqual(new Set(rates.slice(9)), new Set([10]), 'every full window reads 10 req/s');
  assert.ok(
    lastLatency.every((value) => value !== null && value > 0),
    'percentiles from the window even in a second with no answers',
  );
});

test('failures per second and an empty window', () => {
  const window = new RecentWindow(4);
  const first = window.push(1, 0, 0, createHistogram());
  assert.deepEqual(first, { windowS: 1, rps: 0, failuresPerS: 0, latencyMs: { p50: null, p95: null, p99: null } });
  window.push(1, 8, 4, interval([5, 5, 5, 5, 5, 5, 5, 5]));
  const later = window.push(2, 0, 0, createHistogram());
  assert.equal(later.windowS, 4);
  assert.equal(later.rps, 2);
  assert.equal(later.failuresPerS, 1);
  assert.equal(later.latencyMs.p95, 5);
});
