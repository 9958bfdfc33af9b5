import { test } from 'node:test';
import assert from 'node:assert/strict';
import type { Page } from 'playwright-core';
import type { Results } from '../../src/metrics/results.ts';
import { chromiumSkip, launchChromium } from '../helpers/chromium.ts';
import { useProfileFiles } from '../helpers/temp-files.ts';
import { quitUi, startUi } from '../helpers/ui.ts';

const DEVICE = `kind: device
name: web-ui-controls
tasks:
  - name: /data
    http: { method: POST, path: /data, json: { temperature: "{{ int(1, 40) }}" } }
wait:
  model: pacing
  interval: 200ms
`;

const PROFILE = `kind: profile
name: web-ui-controls
seed: 23
fleet:
  - device: web-ui-controls.device.yaml
    count: 6
spawnRate: 200
duration: 60s
`;

const files = useProfileFiles('web-ui-controls', DEVICE, PROFILE);

interface PageUi {
  status: string;
  charts: Record<string, { points: number; series: number; last: (number | null)[] }>;
  table: { total: { requests: number } } | null;
  devices: { online: number; target: number } | null;
  resetAtS?: number | null;
  spawnRate?: number;
}

const pageUi = (tab: Page): Promise<PageUi> => tab.evaluate(() => (globalThis as unknown as { __ui: PageUi }).__ui);

/** Polls the page's state from here (its CSP forbids Playwright's string predicates) until `condition` holds. */
async function untilUi(tab: Page, what: string, condition: (ui: PageUi) => boolean, deadlineMs = 15_000): Promise<PageUi> {
  const deadline = Date.now() + deadlineMs;
  for (;;) {
    const ui = await pageUi(tab).catch(() => undefined);
    if (ui && condition(ui)) return ui;
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}: ${JSON.stringify(ui)}`);
    await new Promise((resolve) => setTimeout(resolve, 100));
  }
}

test('the run panel: spawn rate, Reset stats, and the aggregated response-time chart', { timeout: 60_000, skip: chromiumSkip() }, async () => {
  const ui = await startUi(['ui', files.profile, '--quiet'], 58_000);
  const browser = await launchChromium();
  const errors: string[] = [];
  try {
    const tab = await (await browser.newContext({ viewport: { width: 1400, height: 1000 } })).newPage();
    tab.on('pageerror', (error) => errors.push(error.message));
    await tab.goto(`${ui.base}/`, { waitUntil: 'load' });
    await untilUi(tab, 'the idle page', (page) => page.status === 'idle');
    await tab.fill('#f-devices', '2');
    await tab.fill('#f-duration', '');
    await tab.click('#start');
    await untilUi(tab, '2 devices online', (page) => page.status === 'running' && page.devices?.online === 2);
    assert.equal(await tab.inputValue('#set-spawnRate'), '200', "the run panel shows the run's spawn rate");

    // The aggregated chart: p50 and p95 of all requests, interval by interval.
    const drawn = await untilUi(tab, 'the aggregated chart', (page) => (page.charts.aggregate?.points ?? 0) >= 4);
    assert.equal(drawn.charts.aggregate?.series, 2, 'p50 and p95');
    const [, p50, p95] = drawn.charts.aggregate?.last ?? [];
    assert.ok(typeof p50 === 'number' && typeof p95 === 'number' && p95 >= p50, `p50 ${p50} ≤ p95 ${p95}`);
    assert.match(await tab.locator('[data-chart="aggregate"]').innerText(), /p50 ms[\s\S]*p95 ms/);

    // A slower rate paces the next raise: 2 → 6 at 0.5/s is a device every 2 s.
    await tab.fill('#set-spawnRate', '0.5');
    await tab.fill('#set-devices', '6');
    await tab.click('#apply-devices');
    const ramping = await untilUi(tab, 'the first device of the slow ramp', (page) => (page.devices?.online ?? 0) >= 3 && page.spawnRate === 0.5);
    assert.ok((ramping.devices?.online ?? 0) < 6, `paced at 0.5/s: ${ramping.devices?.online} online`);
    await tab.fill('#set-spawnRate', '200');
    await tab.click('#apply-devices');
    await untilUi(tab, 'the rest at 200/s', (page) => page.devices?.online === 6, 8_000);

    // Reset stats: the table and the charts start again; the run goes on.
    const before = (await untilUi(tab, 'requests', (page) => (page.table?.total.requests ?? 0) > 30)).table?.total.requests ?? 0;
    await tab.click('#reset-stats');
    const reset = await untilUi(tab, 'the reset', (page) => typeof page.resetAtS === 'number');
    assert.ok((reset.table?.total.requests ?? 0) < before, `${reset.table?.total.requests} after the reset, ${before} before`);
    assert.match(await tab.locator('#reset-note').innerText(), /statistics since \d+ s/);
    await untilUi(tab, 'the charts again', (page) => (page.charts.aggregate?.points ?? 0) > 0 && page.status === 'running');

    await tab.click('#stop');
    await untilUi(tab, 'the finished run', (page) => page.status === 'finished', 20_000);
    const results = (await (await tab.request.get(`${ui.base}/api/download/results.json`)).json()) as Results;
    const finalUi = await pageUi(tab);
    const lastPoint = results.history[results.history.length - 1];
    assert.deepEqual(finalUi.charts.aggregate?.last, [lastPoint?.atS, lastPoint?.total.latencyMs.p50, lastPoint?.total.latencyMs.p95], "the chart ends on the results' last interval");
    assert.ok(
      results.history.every((point) => point.atS > (reset.resetAtS ?? 0)),
      'the results begin at the reset',
    );
    assert.match(await tab.locator('#n-elapsed').innerText(), /statistics since \d+ s \(reset\)/);
    assert.deepEqual(errors, [], 'the page ran without errors');
  } finally {
    await browser.close();
    await quitUi(ui);
  }
});
