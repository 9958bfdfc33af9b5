import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFile, stat } from 'node:fs/promises';
import { parse } from 'csv-parse/sync';
import type { Page } from 'playwright-core';
import type { Results } from '../../src/metrics/results.ts';
import { formatMs } from '../../src/report/console.ts';
import { chromiumSkip, launchChromium } from '../helpers/chromium.ts';
import { useProfileFiles } from '../helpers/temp-files.ts';
import { quitUi, startUi } from '../helpers/ui.ts';
import type { RunningUi } from '../helpers/ui.ts';

// A name that would inject markup if the page did not escape it.
const HOSTILE = '/missing<b>x</b>';

const DEVICE = `kind: device
name: web-ui
tasks:
  - name: /data
    weight: 4
    http: { method: POST, path: /data, json: { temperature: "{{ int(1, 40) }}", humidity: "{{ int(1, 99) }}" } }
  - name: "${HOSTILE}"
    weight: 1
    http: { method: GET, path: /missing }
wait:
  model: pacing
  interval: 200ms
`;

const PROFILE = `kind: profile
name: web-ui
seed: 19
fleet:
  - device: web-ui.device.yaml
    count: 12
spawnRate: 20
duration: 60s
`;

const files = useProfileFiles('web-ui', DEVICE, PROFILE);

interface PageUi {
  status: string;
  intervals: number;
  charts: Record<string, { points: number }>;
  table: { total: { requests: number } } | null;
  devices: { online: number; target: number } | null;
}

const pageUi = (tab: Page): Promise<PageUi> => tab.evaluate(() => (globalThis as unknown as { __ui: PageUi }).__ui);

/**
 * Polls the page's state from here until `condition` holds: the page's CSP forbids eval, so
 * Playwright's string predicates cannot run inside it (and must not: the policy is under test too).
 */
async function untilUi(tab: Page, what: string, condition: (ui: PageUi) => boolean, deadlineMs: number): Promise<PageUi> {
  const deadline = Date.now() + deadlineMs;
  for (;;) {
    const ui = await pageUi(tab).catch(() => undefined);
    if (ui && condition(ui)) return ui;
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}: ${JSON.stringify(ui)}`);
    await new Promise((resolve) => setTimeout(resolve, 100));
  }
}

/** Opens the page with every request that leaves the UI's own server refused and counted. */
async function openPage(tab: Page, ui: RunningUi, leaving: string[], errors: string[]): Promise<void> {
  await tab.route('**/*', (route) => {
    const url = route.request().url();
    if (url.startsWith(ui.base)) return route.continue();
    leaving.push(url);
    return route.abort();
  });
  tab.on('pageerror', (error) => errors.push(error.message));
  tab.on('console', (message) => {
    if (message.type() === 'error') errors.push(message.text());
  });
  await tab.goto(`${ui.base}/`, { waitUntil: 'load' });
  await untilUi(tab, 'the idle page', (ui) => ui.status === 'idle', 10_000);
}

test("the page of `fleetsim ui`: start, watch, raise the devices, stop, download; its numbers are the results'", { timeout: 60_000, skip: chromiumSkip() }, async () => {
  const ui = await startUi(['ui', files.profile, '--quiet'], 58_000);
  const browser = await launchChromium();
  const leaving: string[] = [];
  const errors: string[] = [];
  let exit: Awaited<ReturnType<typeof quitUi>>;
  try {
    const context = await browser.newContext({ viewport: { width: 1400, height: 1000 }, acceptDownloads: true });
    const tab = await context.newPage();
    await openPage(tab, ui, leaving, errors);
    assert.match(await tab.locator('#models').innerText(), /web-ui ×12/, "the profile's device models");
    assert.equal(await tab.inputValue('#f-devices'), '12', 'the form starts from the profile');

    await tab.fill('#f-devices', '3');
    await tab.fill('#f-spawnRate', '30');
    await tab.fill('#f-maxDevices', '9');
    await tab.fill('#f-duration', '');
    await tab.click('#start');
    await untilUi(tab, 'the run', (ui) => ui.status === 'running', 15_000);

    // Request counts rise interval after interval.
    const first = (await untilUi(tab, 'requests', (ui) => (ui.table?.total.requests ?? 0) > 0, 15_000)).table?.total.requests ?? 0;
    await untilUi(tab, 'more requests', (ui) => (ui.table?.total.requests ?? 0) > first, 10_000);
    await untilUi(tab, 'three charts', (ui) => Object.values(ui.charts).filter((chart) => chart.points > 0).length >= 3, 10_000);
    const canvases = await tab.locator('[data-chart] canvas').count();
    assert.ok(canvases >= 3, `${canvases} chart canvases drawn`);

    // Raise the count while running: devices online follow it.
    await untilUi(tab, '3 devices online', (ui) => ui.devices?.online === 3, 10_000);
    await tab.fill('#set-devices', '9');
    await tab.click('#apply-devices');
    await untilUi(tab, '9 devices online', (ui) => ui.devices?.online === 9 && ui.devices.target === 9, 15_000);
    assert.equal(await tab.locator('#n-devices').innerText(), '9 / 9');

    await tab.click('#stop');
    await untilUi(tab, 'the finished run', (ui) => ui.status === 'finished', 20_000);

    const download = tab.waitForEvent('download');
    await tab.click('[data-download="stats.csv"]');
    const csvFile = files.temp.file('downloaded_stats.csv');
    await (await download).saveAs(csvFile);
    const results = (await (await tab.request.get(`${ui.base}/api/download/results.json`)).json()) as Results;
    assert.equal(results.stopReason, 'requested');
    assert.equal(results.devices.target, 9);

    // Every row on the page shows the results' numbers, formatted as the console formats them.
    for (const row of [...results.stats, results.total]) {
      const cells = tab.locator(`#stats tr[data-row="${`${row.type} ${row.name}`.replace(/"/g, '\\"')}"]`);
      assert.equal(await cells.count(), 1, `a row for ${row.type} ${row.name}`);
      const cell = (key: string): Promise<string> => cells.locator(`td[data-k="${key}"]`).innerText();
      assert.equal(await cell('requests'), String(row.requests), `${row.name} requests`);
      assert.ok((await cell('failures')).startsWith(`${row.failures} (`), `${row.name} failures`);
      assert.equal(await cell('rps'), row.rps.toFixed(2), `${row.name} req/s`);
      assert.equal(await cell('p50'), formatMs(row.latencyMs.p50), `${row.name} median`);
      assert.equal(await cell('p99'), formatMs(row.latencyMs.p99), `${row.name} p99`);
    }
    assert.ok(
      results.failures.some((failure) => failure.name === HOSTILE),
      'the 404s are failures',
    );
    assert.ok(!results.failures.some((failure) => failure.name === '/data'), 'the fixture takes the readings');
    assert.match(await tab.locator('#failures').innerText(), /HTTP 404/);
    assert.ok((await tab.locator('#stats').innerText()).includes(HOSTILE), 'the hostile name is shown as text');

    const csv = parse<Record<string, string>>(await readFile(csvFile, 'utf8'), { columns: true });
    const aggregated = csv.find((line) => line.Name === 'Aggregated');
    assert.equal(aggregated?.['Request Count'], String(results.total.requests), 'the downloaded CSV is the same run');

    const screenshot = process.env.WEB_UI_SHOT ?? files.temp.file('web-ui.png');
    await tab.screenshot({ path: screenshot, fullPage: true });
    assert.ok((await stat(screenshot)).size > 0, 'the screenshot was saved');
    assert.deepEqual(errors, [], 'the page ran without errors');
    assert.deepEqual(leaving, [], 'the page fetched nothing but its own server');
  } finally {
    await browser.close();
    exit = await quitUi(ui);
  }
  assert.equal(exit.code, 0, exit.stderr);
});

test('closing the browser mid-run leaves `run --ui` going; its results are complete at the end', { timeout: 60_000, skip: chromiumSkip() }, async () => {
  const json = files.temp.file('closed.json');
  const ui = await startUi(['run', files.profile, '--ui', '--devices', '4', '--duration', '5s', '--json', json, '--quiet'], 58_000);
  let exit: Awaited<ReturnType<typeof quitUi>>;
  try {
    const browser = await launchChromium();
    try {
      const tab = await browser.newPage();
      await tab.goto(`${ui.base}/`, { waitUntil: 'load' });
      await untilUi(tab, 'an interval', (ui) => ui.intervals >= 1, 15_000);
    } finally {
      await browser.close();
    }
    const results = await waitForResults(ui, 30_000);
    assert.equal(results.stopReason, 'duration', 'the run went on to its end');
    assert.ok(results.activeS >= 4.9, `${results.activeS} s of load`);
    assert.ok(results.history.length >= 5, `${results.history.length} intervals in the history`);
    assert.ok(results.total.requests > 0 && results.total.requests === results.stats.reduce((sum, row) => sum + row.requests, 0));
    const written = JSON.parse(await readFile(json, 'utf8')) as Results;
    assert.equal(written.total.requests, results.total.requests, '--json holds the same finished run');
  } finally {
    exit = await quitUi(ui);
  }
  assert.equal(exit.code, 0, exit.stderr);
});

/** The finished run's results from the API, once the UI says it is finished. */
async function waitForResults(ui: RunningUi, deadlineMs: number): Promise<Results> {
  const deadline = Date.now() + deadlineMs;
  for (;;) {
    const state = (await (await fetch(`${ui.base}/api/state`)).json()) as { status: string };
    if (state.status === 'finished') return (await (await fetch(`${ui.base}/api/download/results.json`)).json()) as Results;
    if (Date.now() > deadline) throw new Error(`the run never finished: ${state.status}`);
    await new Promise((resolve) => setTimeout(resolve, 200));
  }
}

test('capacity --ui: the page shows each step as it is judged and marks the knee', { timeout: 60_000, skip: chromiumSkip() }, async () => {
  // 200 ms pacing: 1 device sends about 5 req/s (passes 'rps < 12'), 4 devices about 20 (the knee).
  const args = ['capacity', files.profile, '--slo', 'rps < 12', '--start', '1', '--step', '3', '--max-devices', '7', '--step-duration', '2s', '--settle', '1s', '--quiet', '--ui'];
  const ui = await startUi(args, 58_000);
  const browser = await launchChromium();
  const errors: string[] = [];
  let exit: Awaited<ReturnType<typeof quitUi>>;
  try {
    const tab = await browser.newPage();
    tab.on('pageerror', (error) => errors.push(error.message));
    await tab.goto(`${ui.base}/`, { waitUntil: 'load' });
    await tab.locator('#capacity-steps tr[data-step="1"]').waitFor({ timeout: 30_000 });
    assert.equal(await tab.locator('#start-panel').isHidden(), true, 'no start form: the search runs from the command line');
    await untilUi(tab, 'the finished search', (state) => state.status === 'finished', 40_000);
    const knee = tab.locator('#capacity-steps tr.knee');
    assert.equal(await knee.getAttribute('data-step'), '4');
    assert.match(await knee.innerText(), /FAIL \(knee\)/);
    assert.match(await tab.locator('#capacity-verdict').innerText(), /^Capacity: 1 device,/);
    assert.ok((await pageUi(tab)).charts.capacity, 'the steps chart drew');
    assert.deepEqual(errors, []);
  } finally {
    await browser.close();
    exit = await quitUi(ui);
  }
  assert.equal(exit.code, 0, exit.stderr);
});
