import assert from 'node:assert/strict';
import { test } from 'node:test';
import { NO_LATENCY } from '../../../src/metrics/histogram.ts';
import type { LatencySummary } from '../../../src/metrics/histogram.ts';
import { poolQueueWarning } from '../../../src/metrics/pool-queue.ts';
import type { StatsRow } from '../../../src/metrics/results.ts';

const waits = (p99: number, max: number): LatencySummary => ({ ...NO_LATENCY, min: 0.1, mean: p99 / 2, p50: p99 / 4, p99, max });
const httpRow = (queuedMs: LatencySummary | undefined): StatsRow => ({
  type: 'HTTP',
  name: 'HTTP Aggregated',
  requests: 100,
  failures: 0,
  timeouts: 0,
  rps: 10,
  failuresPerS: 0,
  bytesIn: 0,
  latencyMs: NO_LATENCY,
  failedLatencyMs: NO_LATENCY,
  histogram: '',
  late: 0,
  missed: 0,
  lateAcks: 0,
  ...(queuedMs ? { queuedMs } : {}),
});

test('a pool the fleet outnumbers is named, with how long requests waited and what to change', () => {
  assert.equal(
    poolQueueWarning([httpRow(waits(2728, 5632))], 50, 200),
    "requests waited up to 5.6 s (p99 2.7 s) for one of 50 connections: raise http.connections or use connectionPerDevice. That wait is fleetsim's own, not the target's time: it is kept out of the latency and reported as queuedMs.",
  );
});

test('a wait with more connections than devices is not blamed on the pool size', () => {
  assert.match(
    poolQueueWarning([httpRow(waits(94, 103))], 100, 22) ?? '',
    /^requests waited up to 103 ms \(p99 94 ms\) before the HTTP client sent them, though the pool's 100 connections outnumber the 22 devices/,
  );
});

test('short waits, and rows without a pool, say nothing', () => {
  assert.equal(poolQueueWarning([httpRow(waits(49, 400))], 50, 200), undefined);
  assert.equal(poolQueueWarning([httpRow(undefined)], 50, 200), undefined);
  assert.equal(poolQueueWarning([], 50, 200), undefined);
});
