import { test } from 'node:test';
import assert from 'node:assert/strict';
import { formatProgress, formatSummary } from '../../../src/report/console.ts';
import type { Results, StatsRow } from '../../../src/metrics/results.ts';

const latency = { min: 0.5, mean: 1.25, max: 20, p50: 1, p66: 1.1, p75: 1.2, p80: 1.3, p90: 2, p95: 3, p98: 4, p99: 5, p999: 9, p9999: 20 };
const row = (type: string, name: string, requests: number, failures: number): StatsRow => ({
  type,
  name,
  requests,
  failures,
  timeouts: 0,
  rps: requests / 10,
  failuresPerS: failures / 10,
  bytesIn: 0,
  latencyMs: latency,
  histogram: '',
  late: 0,
  missed: 0,
  lateAcks: 0,
});

const results: Results = {
  schema: 'fleetsim.results/v1',
  tool: { name: 'fleetsim', version: '0' },
  seed: '9',
  profile: { path: 'p.yaml', sha256: '' },
  shard: { index: 0, count: 1 },
  startedAt: '',
  endedAt: '',
  durationS: 10.5,
  activeS: 10,
  stopReason: 'duration',
  abandoned: 3,
  devices: { target: 2, started: 2, online: 2 },
  stats: [row('POST', '/data', 100, 1)],
  total: row('', 'Aggregated', 100, 1),
  failures: [{ type: 'POST', name: '/data', error: 'HTTP 503', count: 1 }],
  generator: { cpuPercent: 95, maxRssBytes: 50 * 1048576, eventLoopLagP99Ms: 3 },
  thresholds: [{ expr: 'p95 < 2ms', ok: false, value: 3 }],
  warnings: ['the load generator was saturated'],
};

test('the summary is a Locust-style table with Aggregated last, then failures, generator, thresholds, warnings', () => {
  const text = formatSummary(results);
  const lines = text.split('\n');
  assert.match(lines[0] ?? '', /^Type\s+Name\s+# reqs\s+# fails\s+Median\s+Avg\s+Min\s+Max\s+90%ile\s+95%ile\s+99%ile\s+req\/s$/);
  assert.match(lines[2] ?? '', /^POST\s+\/data\s+100\s+1\(1\.00%\)\s+1\.00\s+1\.25\s+0\.50\s+20\.0\s+2\.00\s+3\.00\s+5\.00\s+10\.00$/);
  assert.match(lines[4] ?? '', /^\s+Aggregated\s+100/);
  assert.match(text, /1 × POST \/data: HTTP 503/);
  assert.match(text, /Generator: CPU 95% of a core, max RSS 50 MB/);
  assert.match(text, /FAIL p95 < 2ms \(3\)/);
  assert.match(text, /Warning: the load generator was saturated/);
  assert.match(text, /10\.5s \(10s of load, then draining\)/);
  assert.match(text, /3 attempts were still in flight when the drain timeout ended/);
});

test('the progress line', () => {
  const line = formatProgress({ elapsedMs: 12_000, devicesOnline: 7, devicesTarget: 10, requests: 300, failures: 2, intervalRps: 25, intervalP95Ms: 4.5 });
  assert.equal(line, '[  12s] devices 7/10  requests 300  failures 2  25.0 req/s  p95 4.50 ms');
  assert.match(formatProgress({ elapsedMs: 0, devicesOnline: 0, devicesTarget: 1, requests: 0, failures: 0, intervalRps: 0, intervalP95Ms: undefined }), /p95 -$/);
});
