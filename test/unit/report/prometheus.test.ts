import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { subscribe, unsubscribe } from 'node:diagnostics_channel';
import { once } from 'node:events';
import { createServer } from 'node:net';
import type { AddressInfo, Server } from 'node:net';
import { execute } from '../../../src/cli/main.ts';
import { UsageError } from '../../../src/errors.ts';
import { RunStats } from '../../../src/metrics/stats.ts';
import { metricsEndpointFromFlags } from '../../../src/cli/metrics-flags.ts';
import { FINAL_SCRAPE_CHANNEL, PrometheusReporter } from '../../../src/report/prometheus.ts';
import type { FinalScrapeMessage } from '../../../src/report/prometheus.ts';
import { createFleetRegistry, METRIC_NAMES } from '../../../src/report/prometheus-metrics.ts';
import { histogramSeries, parseExposition, sampleOf } from '../../helpers/prometheus-text.ts';

async function cli(args: readonly string[]): Promise<{ code: number; stderr: string }> {
  let stderr = '';
  const code = await execute(args, { stdout: () => undefined, stderr: (text) => (stderr += `${text}\n`) });
  return { code, stderr };
}

let busy: Server;
let busyPort: number;
before(async () => {
  busy = createServer().listen(0, '127.0.0.1');
  await once(busy, 'listening');
  busyPort = (busy.address() as AddressInfo).port;
});
after(() => {
  busy.close();
});

test('the registry exposes counters by outcome, valid histograms whose _count is requests, and the gauges', async () => {
  const stats = new RunStats();
  const data = stats.entryFor('POST', '/data');
  for (let i = 0; i < 97; i++) data.record('ok', undefined, 1_500 + i * 100, -1, 10, false);
  data.record('failure', 'HTTP 503', 800, -1, 0, false);
  data.record('failure', 'HTTP 503', 900, -1, 0, false);
  data.record('timeout', 'timeout: 5 s', 5_000_000, -1, 0, false);
  stats.entryFor('PUBLISH', 'lamp "status"');
  const registry = createFleetRegistry(() => ({ entries: stats.entries, devicesOnline: 7, devicesTarget: 10, generator: { busyPercent: 37.5, lagP99Ms: 12 } }), { processMetrics: false });
  const families = parseExposition(await registry.metrics());

  const requests = (name: string, outcome: string): number => sampleOf(families, METRIC_NAMES.requests, { name, outcome }).value;
  assert.equal(families.get(METRIC_NAMES.requests)?.type, 'counter');
  assert.deepEqual([requests('/data', 'ok'), requests('/data', 'failure'), requests('/data', 'timeout')], [97, 2, 1]);
  assert.deepEqual([requests('lamp "status"', 'ok'), requests('lamp "status"', 'timeout')], [0, 0], 'a row without attempts is there, at zero');

  const series = histogramSeries(families.get(METRIC_NAMES.latency) ?? assert.fail('no latency histogram'));
  const row = series.find((one) => one.labels.name === '/data') ?? assert.fail();
  assert.deepEqual(row.labels, { type: 'POST', name: '/data' });
  // The duration histogram is that of answers: the timeout got none.
  assert.equal(row.count, 99);
  assert.deepEqual(
    row.buckets.find(([bound]) => bound === 0.001),
    [0.001, 2],
    'the two fast failures',
  );
  assert.deepEqual(
    row.buckets.find(([bound]) => bound === 2.5),
    [2.5, 99],
    'all but the timeout',
  );
  assert.deepEqual(row.buckets.at(-1), [Number.POSITIVE_INFINITY, 99], 'the timeout is in no bucket');
  assert.equal(row.buckets.length, 52, '51 bounds and +Inf');
  assert.ok(Math.abs(row.sum - (data.latency.mean * 99) / 1e6) < 1e-9, `_sum ${row.sum} is mean × count`);
  assert.equal(series.find((one) => one.labels.name === 'lamp "status"')?.count, 0);

  // prom-client's JSON form (getMetricsAsJSON) carries every label on each sample, le included.
  const json = (await registry.getMetricsAsJSON()).find((metric) => metric.name === METRIC_NAMES.latency);
  assert.deepEqual(json?.values.find((value) => value.labels.le === '+Inf')?.labels, { type: 'POST', name: '/data', le: '+Inf' });

  assert.equal(sampleOf(families, METRIC_NAMES.devicesOnline).value, 7);
  assert.equal(sampleOf(families, METRIC_NAMES.devicesTarget).value, 10);
  assert.equal(sampleOf(families, METRIC_NAMES.busy).value, 0.375);
  assert.equal(sampleOf(families, METRIC_NAMES.lag).value, 0.012);
});

test('process metrics come from the private registry', async () => {
  const registry = createFleetRegistry(() => undefined, { processMetrics: true });
  const families = parseExposition(await registry.metrics());
  assert.ok(families.has('process_cpu_user_seconds_total'));
  assert.ok(families.has('nodejs_eventloop_lag_seconds'));
  assert.ok(!families.has('process_open_fds'), 'not the descriptor count, which lists /proc/self/fd on every scrape');
  assert.equal(sampleOf(families, METRIC_NAMES.devicesOnline).value, 0, 'nothing attached yet');
});

test('the endpoint serves /metrics, 404 elsewhere, 405 for other methods, prints its URL, and holds for a final scrape', async () => {
  const lines: string[] = [];
  const reporter = new PrometheusReporter({ port: 0, host: '127.0.0.1' }, (line) => lines.push(line), false);
  await reporter.prepare();
  const url = reporter.url ?? assert.fail('no URL after prepare');
  assert.deepEqual(lines, [`Prometheus metrics at ${url}`]);
  const scrape = await fetch(url);
  assert.equal(scrape.status, 200);
  assert.match(scrape.headers.get('content-type') ?? '', /^text\/plain; version=0\.0\.4/);
  assert.ok(parseExposition(await scrape.text()).has(METRIC_NAMES.requests));
  assert.equal((await fetch(new URL('/other', url))).status, 404);
  assert.equal((await fetch(url, { method: 'POST' })).status, 405);

  let finalStatus = 0;
  const onFinal = (message: unknown): void => {
    const final = message as FinalScrapeMessage;
    assert.equal(final.url, url);
    final.holds.push(fetch(final.url).then((response) => (finalStatus = response.status)));
  };
  subscribe(FINAL_SCRAPE_CHANNEL, onFinal);
  try {
    await reporter.close();
  } finally {
    unsubscribe(FINAL_SCRAPE_CHANNEL, onFinal);
  }
  assert.equal(finalStatus, 200, 'the final scrape was answered before the endpoint closed');
  await assert.rejects(fetch(url), 'closed after the final scrape');
});

test('a port in use is a usage error naming --metrics-port', async () => {
  const reporter = new PrometheusReporter({ port: busyPort, host: '127.0.0.1' }, () => undefined, false);
  await assert.rejects(reporter.prepare(), (error: unknown) => error instanceof UsageError && /^--metrics-port: 127\.0\.0\.1:\d+ is already in use/.test(error.message));
});

test('an address not of this machine is a usage error naming --metrics-host', async () => {
  // 192.0.2.0/24 is TEST-NET-1: never assigned to a local interface.
  const reporter = new PrometheusReporter({ port: 0, host: '192.0.2.1' }, () => undefined, false);
  await assert.rejects(reporter.prepare(), (error: unknown) => error instanceof UsageError && /^--metrics-host: cannot listen on 192\.0\.2\.1 \(EADDRNOTAVAIL\)/.test(error.message));
});

test('metricsEndpointFromFlags: off by default, 127.0.0.1 unless told, the last value wins', () => {
  assert.equal(metricsEndpointFromFlags(undefined, undefined), undefined);
  assert.deepEqual(metricsEndpointFromFlags('0', undefined), { port: 0, host: '127.0.0.1' });
  assert.deepEqual(metricsEndpointFromFlags(['9000', '9464'], '0.0.0.0'), { port: 9464, host: '0.0.0.0' });
  assert.deepEqual(metricsEndpointFromFlags('65535', '::1'), { port: 65535, host: '::1' });
});

const badFlags: [string[], RegExp][] = [
  [['--metrics-port', 'abc'], /^fleetsim: --metrics-port: expected a whole number from 0 to 65535 \(0 picks a free port\), got 'abc'$/],
  [['--metrics-port', '65536'], /--metrics-port: expected a whole number from 0 to 65535 .*got '65536'$/],
  [['--metrics-port', '-1'], /--metrics-port: expected a whole number from 0 to 65535 .*got '-1'$/],
  [['--metrics-port', '80.5'], /--metrics-port: expected a whole number .*got '80\.5'$/],
  [['--metrics-port', ''], /--metrics-port: expected a whole number .*got ''$/],
  [['--metrics-port'], /Not enough arguments following: metrics-port/],
  [['--metrics-host', '0.0.0.0'], /^fleetsim: --metrics-host: only with --metrics-port$/],
  [['--metrics-port', '0', '--metrics-host', ' '], /--metrics-host: name an address/],
];
for (const [flags, message] of badFlags) {
  test(`fleetsim run … ${flags.join(' ')} exits 2 naming the flag`, async () => {
    const result = await cli(['run', 'profiles/iot-node.yaml', ...flags]);
    assert.equal(result.code, 2, result.stderr);
    const lines = result.stderr.trim().split('\n');
    assert.equal(lines.length, 1, result.stderr);
    assert.match(lines[0] ?? '', message);
  });
}

test('fleetsim run --metrics-port on a port in use exits 2 before the run starts', async () => {
  const result = await cli(['run', 'profiles/iot-node.yaml', '-u', '1', '--metrics-port', String(busyPort)]);
  assert.equal(result.code, 2, result.stderr);
  assert.match(result.stderr, new RegExp(`^fleetsim: --metrics-port: 127\\.0\\.0\\.1:${busyPort} is already in use; pick another port \\(0 picks a free one\\)\\n$`));
});
