import { test } from 'node:test';
import assert from 'node:assert/strict';
import type { Page } from 'playwright-core';
import { chromiumSkip, launchChromium } from '../helpers/chromium.ts';
import { startCli } from '../helpers/cli.ts';
import { useHttpFixture } from '../helpers/http-fixture-suite.ts';

const suite = useHttpFixture();

const DEVICE = `kind: device
name: fleet-page
tasks:
  - name: /data
    http: { method: POST, path: /data, json: { temperature: "{{ int(1, 40) }}", humidity: "{{ int(0, 100) }}" } }
wait:
  model: pacing
  interval: 200ms
`;

interface PageUi {
  status: string;
  mode: string;
  intervals: number;
  charts: Record<string, { points: number }>;
  recent?: { rps: number };
  devices: { online: number; target: number; ceiling: number } | null;
  fleet?: { joined: number; expected: number; workers: { index: number; state: string; online: number; goal: number }[] };
}

const pageUi = (tab: Page): Promise<PageUi> => tab.evaluate(() => (globalThis as unknown as { __ui: PageUi }).__ui);

async function untilUi(tab: Page, what: string, condition: (ui: PageUi) => boolean, deadlineMs = 30_000): Promise<PageUi> {
  const deadline = Date.now() + deadlineMs;
  for (;;) {
    const ui = await pageUi(tab).catch(() => undefined);
    if (ui && condition(ui)) return ui;
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}: ${JSON.stringify(ui)}`);
    await new Promise((resolve) => setTimeout(resolve, 100));
  }
}

test('coordinate --ui in a browser: the merged fleet, its workers, and Set devices splitting the count', { timeout: 90_000, skip: chromiumSkip() }, async () => {
  const device = await suite.temp.write('fleet-page.device.yaml', DEVICE);
  const profile = await suite.temp.write('fleet-page.yaml', `kind: profile\nname: fleet-page\nseed: 4\nfleet:\n  - device: ${device}\n    count: 8\nspawnRate: 1000\nduration: 8s\n`);
  const coordinator = startCli(
    ['coordinate', profile, '--target', suite.url, '--workers', '2', '--local', '--listen', '127.0.0.1:0', '--token', 'page-token-0123456789', '--ui', '--ui-port', '0', '--linger', '60s', '--quiet'],
    80_000,
  );
  await coordinator.waitForStderr(/fleetsim UI at (http:\/\/\S+)/);
  const url = /fleetsim UI at (http:\/\/\S+)/.exec(coordinator.stderrSoFar())?.[1] ?? '';
  const browser = await launchChromium();
  const errors: string[] = [];
  try {
    const tab = await (await browser.newContext({ viewport: { width: 1400, height: 1000 } })).newPage();
    tab.on('pageerror', (error) => errors.push(error.message));
    await tab.goto(url, { waitUntil: 'load' });
    const running = await untilUi(tab, 'the fleet running with 8 devices online and charts', (page) => page.status === 'running' && page.devices?.online === 8 && (page.charts.rps?.points ?? 0) >= 2);
    assert.equal(running.mode, 'fleet');
    assert.equal(running.devices?.ceiling, 8);
    assert.equal(await tab.isHidden('#start-panel'), true, 'the coordinator starts the run, not the page');
    assert.equal(await tab.isDisabled('#reset-stats'), true);
    assert.match(await tab.locator('#fleet').innerText(), /Workers 2 of 2 joined: worker 0 \(127\.0\.0\.1\) running, \d+ \/ 4 devices; worker 1 \(127\.0\.0\.1\) running, \d+ \/ 4 devices/);

    // The page's own control: 8 → 3, which the coordinator splits 2/1 over the two workers' stripes.
    await tab.fill('#set-devices', '3');
    await tab.click('#apply-devices');
    const lowered = await untilUi(tab, '3 devices online, 2 and 1', (page) => page.devices?.online === 3 && page.fleet?.workers.map((worker) => worker.online).join(',') === '2,1');
    assert.equal(lowered.devices?.target, 3);
    assert.match(await tab.locator('#n-devices').innerText(), /^3 \/ 3$/);
    assert.ok((lowered.recent?.rps ?? 0) > 0, 'the rate tiles read the merged intervals');

    // The page stays while the coordinator lingers: the merged results, downloadable.
    const finished = await untilUi(tab, 'the finished fleet', (page) => page.status === 'finished', 40_000);
    assert.equal(
      finished.fleet?.workers.every((worker) => worker.state === 'finished'),
      true,
    );
    assert.match(await tab.locator('#downloads').innerText(), /results\.json/);
    assert.match(await tab.locator('#stats').innerText(), /POST\s+\/data/);
    assert.deepEqual(errors, [], 'the page ran without errors');
  } finally {
    await browser.close();
    coordinator.child.kill('SIGINT');
  }
  const done = await coordinator.done;
  assert.equal(done.code, 0, done.stderr);
});
