import { test } from 'node:test';
import assert from 'node:assert/strict';
import { formatProgress, formatSummary } from '../../../src/report/console.ts';
import { formatThresholdValue } from '../../../src/report/format.ts';
import { NO_LATENCY } from '../../../src/metrics/histogram.ts';
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
  failedLatencyMs: NO_LATENCY,
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
  abandonCause: 'drain timeout',
  devices: { target: 2, started: 2, online: 2 },
  stats: [row('POST', '/data', 100, 1)],
  total: row('', 'Aggregated', 100, 1),
  types: [row('HTTP', 'HTTP Aggregated', 100, 1)],
  bareThresholdsRead: 'Aggregated',
  history: [],
  saturation: { limits: { busyPercent: 90, lagP99Ms: 50 }, intervals: 0, seconds: 0, requests: 0, latencyMs: latency, latencyMsExcludingSaturated: latency },
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
  assert.match(text, /FAIL p95 < 2ms \(3.00 ms\)/);
  assert.match(text, /Warning: the load generator was saturated/);
  assert.match(text, /10\.5s \(10s of load, then draining\)/);
  assert.match(text, /3 attempts were still in flight when the drain timeout ended/);
});

test('thresholds come last, ending with one verdict line; a bare threshold says which aggregate it read', () => {
  const mqtt: Results = {
    ...results,
    bareThresholdsRead: 'PUBLISH Aggregated',
    thresholds: [
      { expr: 'p95 < 500ms', row: 'PUBLISH Aggregated', ok: true, value: 15.3 },
      { expr: 'CONNECT: p95 < 50ms', row: 'CONNECT Aggregated', ok: false, value: 85.7 },
    ],
  };
  const lines = formatSummary(mqtt).split('\n');
  assert.equal(lines.at(-1), '2 thresholds: 1 failed');
  assert.equal(lines.at(-2), '  FAIL CONNECT: p95 < 50ms (85.7 ms on CONNECT Aggregated)');
  assert.equal(lines.at(-3), '  ok   p95 < 500ms (15.3 ms on PUBLISH Aggregated)');
  assert.ok(lines.indexOf('Thresholds:') > lines.findIndex((line) => line.startsWith('Warning:')));
  assert.ok(lines.some((line) => line.startsWith('A threshold without a selector reads PUBLISH Aggregated')));
});

test('a row with no samples shows - for every latency, not 0.00', () => {
  const empty = {
    ...row('GET', '/ota', 0, 0),
    latencyMs: { min: null, mean: null, max: null, p50: null, p66: null, p75: null, p80: null, p90: null, p95: null, p98: null, p99: null, p999: null, p9999: null },
  };
  const text = formatSummary({ ...results, stats: [...results.stats, empty] });
  const line = text.split('\n').find((candidate) => candidate.startsWith('GET'));
  assert.match(line ?? '', /^GET\s+\/ota\s+0\s+0\(0\.00%\)\s+-\s+-\s+-\s+-\s+-\s+-\s+-\s+0\.00$/);
});

test('the summary gives latency with and without the intervals in which the generator was saturated', () => {
  const clean = { ...latency, p50: 0.9, p95: 2.5, p99: 3.1 };
  const text = formatSummary({ ...results, saturation: { ...results.saturation, intervals: 2, seconds: 2, requests: 40, latencyMsExcludingSaturated: clean } });
  assert.match(text, /Generator saturated in 2 intervals \(2s; event loop >= 90% busy or lag >= 50 ms\): 40 requests \(40\.0%\)/);
  assert.match(text, /p50\/p95\/p99 1\.00\/3\.00\/5\.00 ms with them, 0\.90\/2\.50\/3\.10 ms without/);
});

test('the progress line gives rates and percentiles over one window, and the top error', () => {
  const line = formatProgress({
    elapsedMs: 12_000,
    totalMs: 30_000,
    devicesOnline: 7,
    devicesTarget: 10,
    windowS: 1,
    rps: 25,
    failuresPerS: 0.5,
    latencyMs: { p50: 1.2, p95: 4.5, p99: 9 },
    topError: { label: 'HTTP 503', count: 4 },
  });
  assert.equal(line, '[12s/30s] devices 7/10  25.0 req/s  0.5 fail/s  p50/p95/p99 1.20/4.50/9.00 ms (last 1s)  top error: HTTP 503 ×4');
  const idle = formatProgress({
    elapsedMs: 2000,
    totalMs: undefined,
    devicesOnline: 0,
    devicesTarget: 1,
    windowS: 1,
    rps: 0,
    failuresPerS: 0,
    latencyMs: { p50: null, p95: null, p99: null },
    topError: undefined,
  });
  assert.equal(idle, '[2s] devices 0/1  0.0 req/s  0.0 fail/s  p50/p95/p99 -/-/- ms (last 1s)');
});

test("merged shards that abandoned attempts for different causes: the summary gives each shard's", () => {
  const text = formatSummary({ ...results, abandoned: 7, abandonCause: 'shard 0: second interrupt; shard 2: drain timeout' });
  assert.match(text, /7 attempts were still in flight when their shards' drains ended \(shard 0: second interrupt; shard 2: drain timeout\)/);
  assert.match(formatSummary({ ...results, abandonCause: 'second interrupt' }), /3 attempts were still in flight when a second interrupt ended the drain/);
});

test('broker figures: loads said per minute; over WebSocket, the note on the sent counters beside them', () => {
  const broker = {
    source: '$SYS' as const,
    publishReceived: 100,
    publishSent: 40,
    publishDropped: 0,
    messagesReceived: 130,
    messagesSent: 60,
    clientsConnected: { peak: 3, last: 1 },
    load1min: { 'messages/received': 6000 },
    loadUnit: 'per minute' as const,
    fresh: true,
    notes: ['Mosquitto leaves WebSocket out of sent.'],
  };
  const text = formatSummary({ ...results, stats: [row('PUBLISH', 'lamp', 100, 0)], broker });
  assert.match(text, /Broker load, 1-min average \(per minute, not per second\): messages\/received 6000\./);
  assert.doesNotMatch(text, /per s\)/);
  assert.match(text, /sent 40, dropped 0.*\n {2}Broker load.*\n {2}Note: Mosquitto leaves WebSocket out of sent\./);
  assert.doesNotMatch(formatSummary({ ...results, broker: { ...broker, notes: [] } }), /Note:/);
});

test('QoS 2 publishes answered with PUBACK: one warning over every row, naming the downgrade', () => {
  const downgraded = (name: string, count: number): StatsRow => ({ ...row('PUBLISH', name, count, 0), qosDowngrades: count });
  const text = formatSummary({ ...results, stats: [downgraded('a', 30), downgraded('b', 12), { ...row('SUBSCRIBE', 'cmd', 2, 0), qosDowngrades: 2 }] });
  const warnings = text.split('\n').filter((line) => line.includes('answered with PUBACK'));
  assert.deepEqual(warnings, [
    '42 QoS 2 publishes (a, b) were answered with PUBACK: the broker downgrades QoS 2 to QoS 1, as RabbitMQ does by design. They count as acked at QoS 1 (at least once, not exactly once); mqtt.qos2Downgrade: fail counts them as failures.',
  ]);
  assert.match(text, /2 × SUBSCRIBE cmd: the broker granted a lower QoS than asked/);
});

test('the progress line fits a width: later parts shorten, then go; the rate and its window stay', () => {
  const state = {
    elapsedMs: 12_000,
    totalMs: 30_000,
    devicesOnline: 700,
    devicesTarget: 1000,
    windowS: 10,
    rps: 2500,
    failuresPerS: 12.5,
    latencyMs: { p50: 12.3, p95: 45.6, p99: 120 },
    topError: { label: 'ECONNREFUSED: connection refused', count: 4000 },
    load: { offeredRps: 2600, deliveredRps: 2500, deliveredShare: 0.96, windowS: 10, cause: 'delivered' as const },
  };
  const full = formatProgress(state);
  assert.equal(full, '[12s/30s] devices 700/1000  2500.0 req/s  12.5 fail/s  p50/p95/p99 12.3/45.6/120 ms (last 10s)  delivered 96%  top error: ECONNREFUSED: connection refused ×4000');
  for (const width of [40, 60, 79, 100, 120]) {
    const line = formatProgress(state, width);
    assert.ok([...line].length <= width, `${width}: ${line}`);
  }
  assert.equal(formatProgress(state, 79), '[12s/30s] devices 700/1000  2500.0 req/s  12.5 fail/s  p95 45.6 ms (last 10s)');
  assert.equal(formatProgress(state, 100), '[12s/30s] devices 700/1000  2500.0 req/s  12.5 fail/s  p95 45.6 ms (last 10s)  delivered 96%');
  assert.equal(formatProgress(state, 150), '[12s/30s] devices 700/1000  2500.0 req/s  12.5 fail/s  p50/p95/p99 12.3/45.6/120 ms (last 10s)  delivered 96%  top error ×4000');
  assert.equal(formatProgress(state, 20), '[12s/30s] devices 7…');
});

test('threshold values carry their units: percentages, ms, per second', () => {
  assert.equal(formatThresholdValue({ expr: 'failures < 1%', value: 0.039443 }), '3.94%');
  assert.equal(formatThresholdValue({ expr: 'failure_rate < 0.01', value: 0.00039 }), '0.039%');
  assert.equal(formatThresholdValue({ expr: 'p95 < 500ms', value: 22.687 }), '22.7 ms');
  assert.equal(formatThresholdValue({ expr: 'GET /x: p(99) < 1s', value: 1234.5 }), '1235 ms');
  assert.equal(formatThresholdValue({ expr: 'rps >= 19', value: 19.456 }), '19.46/s');
  assert.equal(formatThresholdValue({ expr: 'failures < 10', value: 3 }), '3');
});
