import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { subscribe, unsubscribe } from 'node:diagnostics_channel';
import { once } from 'node:events';
import { readFile } from 'node:fs/promises';
import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { setTimeout as delay } from 'node:timers/promises';
import { execute } from '../../src/cli/main.ts';
import type { Results } from '../../src/metrics/results.ts';
import { FINAL_SCRAPE_CHANNEL } from '../../src/report/prometheus.ts';
import type { FinalScrapeMessage } from '../../src/report/prometheus.ts';
import { METRIC_NAMES } from '../../src/report/prometheus-metrics.ts';
import { histogramSeries, parseExposition, sampleOf } from '../helpers/prometheus-text.ts';
import type { Family } from '../helpers/prometheus-text.ts';
import { TempDir } from '../helpers/temp-files.ts';

const DEVICE = `kind: device
name: staged
tasks:
  - name: /spread
    http: { method: GET, path: /spread }
wait: { model: constant, time: 50ms }
`;

const PROFILE = `kind: profile
name: staged
seed: 3
fleet:
  - device: staged.device.yaml
    count: 10
`;

/** Prometheus's histogram_quantile: linear inside the bucket the rank falls in; the highest finite bound past it. */
function histogramQuantile(q: number, buckets: readonly (readonly [number, number])[]): number {
  const count = buckets.at(-1)?.[1] ?? 0;
  const rank = q * count;
  let lower = 0;
  let below = 0;
  for (const [bound, cumulative] of buckets) {
    if (cumulative >= rank) {
      if (bound === Number.POSITIVE_INFINITY) return lower;
      return lower + ((bound - lower) * (rank - below)) / Math.max(1e-9, cumulative - below);
    }
    lower = bound;
    below = cumulative;
  }
  return lower;
}

let temp: TempDir;
// Answers after 20 to 80 ms, evenly spread (a known distribution: p95 at 77 ms).
let answered = 0;
const server = createServer((_request, response) => {
  const ms = 20 + ((answered++ * 37) % 61);
  setTimeout(() => response.end('ok'), ms);
});
before(async () => {
  temp = await TempDir.create();
  server.listen(0, '127.0.0.1');
  await once(server, 'listening');
});
after(async () => {
  server.closeAllConnections();
  server.close();
  await temp.remove();
});

test("scraped through stages: devices_target follows the stage; the buckets' p95 is within 10% of the results'", { timeout: 30_000 }, async () => {
  await temp.write('staged.device.yaml', DEVICE);
  const profile = await temp.write('staged.yaml', PROFILE);
  const json = temp.file('results.json');
  const target = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
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
  let final: Map<string, Family> | undefined;
  const onFinal = (message: unknown): void => {
    const { url, holds } = message as FinalScrapeMessage;
    holds.push(
      fetch(url)
        .then((response) => response.text())
        .then((text) => (final = parseExposition(text))),
    );
  };
  subscribe(FINAL_SCRAPE_CHANNEL, onFinal);
  const targets: { atMs: number; target: number }[] = [];
  let code: number;
  try {
    let ended = false;
    const started = Date.now();
    const run = execute(
      [
        'run',
        profile,
        '--target',
        target,
        '--stage',
        '2s:10',
        '--stage',
        '2500ms:10',
        '--stage',
        '500ms:3',
        '--stage',
        '2s:3',
        '--metrics-port',
        '0',
        '--json',
        json,
        '--quiet',
        '--min-delivered',
        'off',
      ],
      output,
    ).finally(() => (ended = true));
    const url = await Promise.race([endpoint, run.then(() => assert.fail(`no endpoint announced:\n${stderr}`))]);
    while (!ended) {
      const families = parseExposition(await (await fetch(url)).text());
      targets.push({ atMs: Date.now() - started, target: sampleOf(families, METRIC_NAMES.devicesTarget).value });
      await delay(200);
    }
    code = await run;
  } finally {
    unsubscribe(FINAL_SCRAPE_CHANNEL, onFinal);
  }
  assert.equal(code, 0, stderr);
  const seen = targets.map((reading) => reading.target);
  // The first stages head for 10, the later ones for 3: the gauge shows each in turn, never going back.
  const firstThree = seen.indexOf(3);
  assert.ok(seen.includes(10), `devices_target read ${seen.join(', ')}`);
  assert.ok(firstThree > 0, `devices_target never followed the stage down to 3: ${seen.join(', ')}`);
  assert.ok(
    seen.slice(firstThree).every((value) => value === 3),
    `back up after the stage down: ${seen.join(', ')}`,
  );
  // 0 only before the run's first device is due.
  assert.ok(
    seen.slice(seen.indexOf(10), firstThree).every((value) => value === 10),
    `before the stage down: ${seen.join(', ')}`,
  );
  assert.ok(
    seen.slice(0, seen.indexOf(10)).every((value) => value === 0),
    `before the first stage: ${seen.join(', ')}`,
  );

  const results = JSON.parse(await readFile(json, 'utf8')) as Results;
  const row = results.stats.find((one) => one.name === '/spread');
  assert.ok(row && row.requests > 200 && row.failures === 0, `${row?.requests} requests`);
  const last = final ?? assert.fail('no final scrape');
  const series = histogramSeries(last.get(METRIC_NAMES.latency) ?? assert.fail('no latency histogram')).find((one) => one.labels.name === '/spread');
  assert.ok(series);
  assert.equal(series.count, row.requests);
  const p95 = histogramQuantile(0.95, series.buckets) * 1000;
  const exact = row.latencyMs.p95 ?? assert.fail('no p95');
  assert.ok(exact > 70 && exact < 90, `the fixture's p95 ${exact} ms`);
  assert.ok(Math.abs(p95 - exact) <= 0.1 * exact, `histogram_quantile p95 ${p95.toFixed(1)} ms vs the results' ${exact} ms`);
  process.stdout.write(`# p95 from the buckets ${p95.toFixed(2)} ms, HDR ${exact} ms; devices_target ${seen.join(',')}\n`);
});
