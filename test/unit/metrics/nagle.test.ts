import assert from 'node:assert/strict';
import { test } from 'node:test';
import type { GeneratorHealth } from '../../../src/metrics/generator-monitor.ts';
import type { LatencySummary } from '../../../src/metrics/histogram.ts';
import { NO_LATENCY } from '../../../src/metrics/histogram.ts';
import { nagleWarning } from '../../../src/metrics/nagle.ts';
import type { StatsRow } from '../../../src/metrics/results.ts';

function latencies(min: number, p50: number, p90: number): LatencySummary {
  return { min, mean: p50, max: p90 + 5, p50, p66: p50, p75: p50, p80: p50, p90, p95: p90, p98: p90, p99: p90, p999: p90, p9999: p90 };
}

function row(type: string, requests: number, latencyMs: LatencySummary): StatsRow {
  return {
    type,
    name: 'lamp/changed',
    requests,
    failures: 0,
    timeouts: 0,
    rps: 0,
    failuresPerS: 0,
    bytesIn: 0,
    latencyMs,
    failedLatencyMs: NO_LATENCY,
    histogram: '',
    late: 0,
    missed: 0,
    lateAcks: 0,
  };
}

const idle: GeneratorHealth = { cpuPercent: 12, maxRssBytes: 1, eventLoopLagP99Ms: 1, eventLoopBusyPercent: 10 };
const clustered = latencies(0.4, 40.2, 43.9);

test('PUBLISH latencies clustered at the delayed-ACK timer, with fast acks beside them, are named as Nagle', () => {
  assert.match(nagleWarning([row('PUBLISH', 5000, clustered)], idle) ?? '', /lamp\/changed \(median 40\.2 ms\).*set_tcp_nodelay true/);
});

test('other shapes are not: a spread-out median, no fast acks, too few samples, or not a PUBLISH', () => {
  assert.equal(nagleWarning([row('PUBLISH', 5000, latencies(0.4, 40.2, 80))], idle), undefined);
  assert.equal(nagleWarning([row('PUBLISH', 5000, latencies(30, 40.2, 43.9))], idle), undefined);
  assert.equal(nagleWarning([row('PUBLISH', 99, clustered)], idle), undefined);
  assert.equal(nagleWarning([row('POST', 5000, clustered)], idle), undefined);
  assert.equal(nagleWarning([row('PUBLISH', 5000, latencies(0.4, 2, 3))], idle), undefined);
});

test('a saturated generator is not read as Nagle: its own delay can put the median there', () => {
  assert.equal(nagleWarning([row('PUBLISH', 5000, clustered)], { ...idle, cpuPercent: 98 }), undefined);
  assert.equal(nagleWarning([row('PUBLISH', 5000, clustered)], { ...idle, eventLoopLagP99Ms: 120 }), undefined);
});
