import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { readFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { pathToFileURL } from 'node:url';
import type { Results } from '../../src/metrics/results.ts';
import { chromiumSkip, launchChromium } from '../helpers/chromium.ts';
import { runCli } from '../helpers/cli.ts';
import { TempDir } from '../helpers/temp-files.ts';

// A name that would close the data's <script> tag, open a comment or inject markup if it were not escaped.
const HOSTILE = '/missing</script><!--<b>';

const DEVICE = `kind: device
name: html-probe
tasks:
  - name: /data
    weight: 4
    http:
      method: POST
      path: /data
      json:
        temperature: "{{ int(1, 40) }}"
        humidity: "{{ int(1, 99) }}"
  - name: "${HOSTILE}"
    weight: 1
    http: { method: GET, path: /missing }
wait:
  model: pacing
  interval: 100ms
`;

const PROFILE = `kind: profile
name: html-probe
seed: 11
fleet:
  - device: html-probe.device.yaml
    count: 8
spawnRate: 4
duration: 60s
`;

const SCREENSHOT = path.join(tmpdir(), 'fleetsim-html-report.png');

interface DrawnChart {
  readonly id: string;
  readonly points: number;
}

let temp: TempDir;
before(async () => {
  temp = await TempDir.create();
});
after(async () => {
  await temp.remove();
});

test('--html: a self-contained page that draws its charts from a real run with the network blocked', { timeout: 60_000, skip: chromiumSkip() }, async () => {
  await temp.write('html-probe.device.yaml', DEVICE);
  const profile = await temp.write('html-probe.yaml', PROFILE);
  const html = temp.file('report.html');
  const json = temp.file('report.json');
  const thresholds = ['--threshold', 'p95 < 2000ms', '--threshold', 'POST /data: failures < 1%', '--threshold', 'failures < 5%'];
  const result = await runCli(['run', profile, '--duration', '5s', '--html', html, '--json', json, '--quiet', ...thresholds], 30_000);
  assert.equal(result.code, 99, `the 'failures < 5%' threshold fails (a fifth of the tasks hit a 404)\n${result.stderr}`);
  const results = JSON.parse(await readFile(json, 'utf8')) as Results;
  const page = await readFile(html, 'utf8');

  // Nothing the browser would fetch: no src/href/url()/@import that leaves the file.
  assert.doesNotMatch(page, /\b(?:src|href|action|poster)\s*=\s*["']?\s*(?:https?:)?\/\//i);
  assert.doesNotMatch(page, /url\(\s*["']?\s*(?:https?:)?\/\//i);
  assert.doesNotMatch(page, /@import/i);
  assert.doesNotMatch(page, /<(?:link|iframe|img)\b/i);
  assert.ok(!page.includes(HOSTILE), 'the hostile name appears only escaped');

  const browser = await launchChromium();
  try {
    const context = await browser.newContext({ viewport: { width: 1400, height: 900 } });
    const tab = await context.newPage();
    const leaving: string[] = [];
    const errors: string[] = [];
    await tab.route('**/*', (route) => {
      const url = route.request().url();
      if (url.startsWith('file:')) return route.continue();
      leaving.push(url);
      return route.abort();
    });
    tab.on('pageerror', (error) => errors.push(error.message));
    tab.on('console', (message) => {
      if (message.type() === 'error') errors.push(message.text());
    });
    await tab.goto(pathToFileURL(html).href, { waitUntil: 'load' });
    await tab.waitForSelector('body[data-charts-ready]', { timeout: 10_000 });

    const charts = await tab.evaluate<DrawnChart[]>('window.__charts');
    const withData = charts.filter((chart) => chart.points > 0).map((chart) => chart.id);
    assert.ok(withData.length >= 3, `charts with data: ${JSON.stringify(charts)}`);
    for (const id of ['rps', 'latency', 'devices', 'generator']) assert.ok(withData.includes(id), `${id} drew no points: ${JSON.stringify(charts)}`);
    // The canvases really hold pixels, not only a count the script reported.
    const inked = await tab.evaluate<number[]>(`Array.from(document.querySelectorAll('[data-chart] canvas')).map(function (canvas) {
      var pixels = canvas.getContext('2d').getImageData(0, 0, canvas.width, canvas.height).data;
      var inked = 0;
      for (var i = 3; i < pixels.length; i += 4) if (pixels[i] > 0) inked++;
      return inked;
    })`);
    assert.ok(inked.length >= 4 && inked.every((count) => count > 500), `inked pixels per canvas: ${inked.join(', ')}`);

    const thresholdRows = await tab.locator('#thresholds tr').allInnerTexts();
    assert.equal(thresholdRows.length, 1 + 3);
    assert.ok(
      thresholdRows.some((row) => row.startsWith('FAIL') && row.includes('failures < 5%')),
      thresholdRows.join('\n'),
    );
    assert.ok(
      thresholdRows.some((row) => row.startsWith('ok') && row.includes('p95 < 2000ms')),
      thresholdRows.join('\n'),
    );

    const statsRows = await tab.locator('#stats tr').allInnerTexts();
    const data = results.stats.find((row) => row.name === '/data');
    assert.ok(data);
    assert.ok(
      statsRows.some((row) => row.startsWith('POST\t/data\t') && row.includes(`\t${data.requests}\t`)),
      statsRows.join('\n'),
    );
    assert.ok(
      statsRows.some((row) => row.includes(HOSTILE)),
      'the hostile name is shown as text',
    );
    // One type (HTTP): its aggregate is the run's, printed once.
    assert.ok(!statsRows.some((row) => row.includes('HTTP Aggregated')), statsRows.join('\n'));
    assert.ok(statsRows.at(-1)?.includes(`Aggregated\t${results.total.requests}\t`), statsRows.at(-1));
    assert.match(await tab.locator('#failures').innerText(), /HTTP 404/);
    assert.match(await tab.locator('.meta').innerText(), new RegExp(`Seed\\s+${results.seed}`));

    await tab.screenshot({ path: SCREENSHOT, fullPage: true });
    assert.deepEqual(errors, [], 'the page ran without errors');
    assert.deepEqual(leaving, [], 'the page asked for nothing outside its file');
  } finally {
    await browser.close();
  }
});

test('--html naming a directory is a usage error before the run starts', { timeout: 20_000 }, async () => {
  const result = await runCli(['run', 'profiles/iot-node.yaml', '--duration', '10m', '--html', temp.dir, '--quiet'], 15_000);
  assert.equal(result.code, 2, result.stderr);
  assert.match(result.stderr, /--html: .* is a directory; name a file/);
});
