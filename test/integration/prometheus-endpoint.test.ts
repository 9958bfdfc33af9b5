import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { subscribe, unsubscribe } from 'node:diagnostics_channel';
import { readFile } from 'node:fs/promises';
import { setTimeout as delay } from 'node:timers/promises';
import { execute } from '../../src/cli/main.ts';
import type { Results } from '../../src/metrics/results.ts';
import { FINAL_SCRAPE_CHANNEL } from '../../src/report/prometheus.ts';
import type { FinalScrapeMessage } from '../../src/report/prometheus.ts';
import { METRIC_NAMES } from '../../src/report/prometheus-metrics.ts';
import { histogramSeries, parseExposition, sampleOf } from '../helpers/prometheus-text.ts';
import type { Family } from '../helpers/prometheus-text.ts';
import { TempDir } from '../helpers/temp-files.ts';

// Two rows with different outcomes against the embedded fixture: 2xx, and 404s (failures). The
// fixture answers every request at once, so timeouts are left to the unit tests.
const DEVICE = `kind: device
name: scraped
tasks:
  - name: /data
    weight: 3
    http: { method: POST, path: /data, json: { temperature: "{{ int(1, 40) }}", humidity: "{{ int(0, 100) }}" } }
  - name: /missing
    weight: 1
    http: { method: GET, path: /missing }
wait: { model: constant, time: 100ms }
`;

const PROFILE = `kind: profile
name: scraped
seed: 7
fleet:
  - device: scraped.device.yaml
    count: 20
spawnRate: 40
duration: 4s
`;

type Scrape = Map<string, Family>;

let temp: TempDir;
before(async () => {
  temp = await TempDir.create();
});
after(async () => {
  await temp.remove();
});

async function scrape(url: string): Promise<Scrape> {
  const response = await fetch(url);
  assert.equal(response.status, 200);
  return parseExposition(await response.text());
}

const totalRequests = (families: Scrape): number => families.get(METRIC_NAMES.requests)?.samples.reduce((sum, sample) => sum + sample.value, 0) ?? 0;

/** Every counter series and every histogram bucket, _count and _sum of `later` is at least what it was in `earlier`. */
function assertMonotonic(earlier: Scrape, later: Scrape, what: string): void {
  for (const family of [METRIC_NAMES.requests, METRIC_NAMES.latency]) {
    for (const sample of earlier.get(family)?.samples ?? []) {
      const same = later.get(family)?.samples.find((one) => one.name === sample.name && JSON.stringify(one.labels) === JSON.stringify(sample.labels));
      assert.ok(same, `${what}: ${sample.name}${JSON.stringify(sample.labels)} disappeared`);
      assert.ok(same.value >= sample.value, `${what}: ${sample.name}${JSON.stringify(sample.labels)} fell from ${sample.value} to ${same.value}`);
    }
  }
}

test('scraped during a run and after its results are written: valid, monotonic, and the final counters are the results JSON', { timeout: 30_000 }, async () => {
  await temp.write('scraped.device.yaml', DEVICE);
  const profile = await temp.write('scraped.yaml', PROFILE);
  const json = temp.file('results.json');
  let stderr = '';
  let announced: (url: string) => void = () => undefined;
  const endpoint = new Promise<string>((resolve) => (announced = resolve));
  const output = {
    stdout: () => undefined,
    stderr: (text: string) => {
      stderr += `${text}\n`;
      const url = /^Prometheus metrics at (\S+)$/.exec(text)?.[1];
      if (url) announced(url);
    },
  };

  // The last scrape: after every report is written, before the endpoint closes.
  let final: Scrape | undefined;
  const onFinal = (message: unknown): void => {
    const { url, holds } = message as FinalScrapeMessage;
    holds.push(scrape(url).then((families) => (final = families)));
  };
  subscribe(FINAL_SCRAPE_CHANNEL, onFinal);
  const during: Scrape[] = [];
  let code: number;
  try {
    let ended = false;
    const run = execute(['run', profile, '--metrics-port', '0', '--json', json, '--quiet'], output).finally(() => (ended = true));
    const url = await Promise.race([endpoint, run.then(() => assert.fail(`the run ended without announcing its endpoint:\n${stderr}`))]);
    assert.match(url, /^http:\/\/127\.0\.0\.1:\d+\/metrics$/);

    // Poll (with a deadline) until the run has counted something, then until it has counted more.
    const deadline = Date.now() + 10_000;
    while (during.length < 2 || totalRequests(during.at(-1) as Scrape) <= totalRequests(during[0] as Scrape)) {
      assert.ok(!ended, `the run ended before two scrapes saw it progress (${during.map(totalRequests).join(', ')})`);
      assert.ok(Date.now() < deadline, 'no progress between scrapes within 10 s');
      const families = await scrape(url);
      if (totalRequests(families) > 0 || during.length > 0) during.push(families);
      await delay(100);
    }
    code = await run;
  } finally {
    unsubscribe(FINAL_SCRAPE_CHANNEL, onFinal);
  }
  assert.equal(code, 0, stderr);
  const last: Scrape = final ?? assert.fail('the final scrape did not run before the endpoint closed');

  for (let i = 1; i < during.length; i++) assertMonotonic(during[i - 1] as Scrape, during[i] as Scrape, `scrape ${i + 1}`);
  assertMonotonic(during.at(-1) as Scrape, last, 'the final scrape');
  for (const families of [...during, last]) {
    assert.equal(sampleOf(families, METRIC_NAMES.devicesTarget).value, 20);
    histogramSeries(families.get(METRIC_NAMES.latency) ?? assert.fail('no latency histogram'));
  }
  assert.ok(
    during.some((families) => sampleOf(families, METRIC_NAMES.devicesOnline).value > 0),
    'devices were online while scraped',
  );

  const results = JSON.parse(await readFile(json, 'utf8')) as Results;
  const histograms = histogramSeries(last.get(METRIC_NAMES.latency) ?? assert.fail());
  assert.equal(histograms.length, results.stats.length, 'one histogram per row');
  for (const row of results.stats) {
    const labels = { type: row.type, name: row.name };
    const outcome = (name: string): number => sampleOf(last, METRIC_NAMES.requests, { ...labels, outcome: name }).value;
    assert.deepEqual(
      { ok: outcome('ok'), failure: outcome('failure'), timeout: outcome('timeout') },
      { ok: row.requests - row.failures, failure: row.failures - row.timeouts, timeout: row.timeouts },
      `${row.type} ${row.name}`,
    );
    assert.equal(histograms.find((series) => series.labels.name === row.name && series.labels.type === row.type)?.count, row.requests, `${row.type} ${row.name} _count`);
  }
  const data = results.stats.find((row) => row.name === '/data');
  assert.ok(data && data.requests > 0 && data.failures === 0, 'the /data row is all successes');
  const missing = results.stats.find((row) => row.name === '/missing');
  assert.ok(missing && missing.requests > 0 && missing.failures === missing.requests, 'the 404 row is all failures');
  await assert.rejects(fetch(await endpoint), 'the endpoint closed after the final scrape');
});
