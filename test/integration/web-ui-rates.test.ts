import { test } from 'node:test';
import assert from 'node:assert/strict';
import type { Results } from '../../src/metrics/results.ts';
import { chromiumSkip, launchChromium } from '../helpers/chromium.ts';
import { useProfileFiles } from '../helpers/temp-files.ts';
import { quitUi, startUi } from '../helpers/ui.ts';

// 20 devices started within 0.2 s, each a request every 2 s: the answers come in lumps, one
// interval's rate reads about 20, 0, 20, 0 req/s, and the run's mean is about 10.
const DEVICE = `kind: device
name: paced-tiles
tasks:
  - name: /data
    http: { method: POST, path: /data, json: { temperature: "{{ int(1, 40) }}", humidity: "{{ int(1, 99) }}" } }
wait:
  model: pacing
  interval: 2s
`;

const PROFILE = `kind: profile
name: paced-tiles
seed: 5
fleet:
  - device: paced-tiles.device.yaml
    count: 20
spawnRate: 100
duration: 17s
`;

const files = useProfileFiles('paced-tiles', DEVICE, PROFILE);

interface Tiles {
  readonly status: string;
  readonly recent?: { readonly windowS: number; readonly rps: number };
  readonly charts: Record<string, { readonly last?: readonly (number | null)[] } | undefined>;
}

test("the rate tile of a paced fleet: five readings a second apart, none 0, each within 25% of the run's mean", { timeout: 60_000, skip: chromiumSkip() }, async () => {
  const ui = await startUi(['run', files.profile, '--ui', '--quiet'], 58_000);
  const browser = await launchChromium();
  const errors: string[] = [];
  const notFound: string[] = [];
  let exit: Awaited<ReturnType<typeof quitUi>>;
  try {
    const tab = await browser.newPage();
    tab.on('console', (message) => {
      if (message.type() === 'error') errors.push(message.text());
    });
    tab.on('response', (response) => {
      if (response.status() === 404) notFound.push(response.url());
    });
    await tab.goto(`${ui.base}/`, { waitUntil: 'load' });
    const tiles = (): Promise<Tiles> => tab.evaluate(() => (globalThis as unknown as { __ui: Tiles }).__ui);
    // Read once the window is full: its first seconds hold the ramp.
    const deadline = Date.now() + 20_000;
    while (((await tiles()).recent?.windowS ?? 0) < 10) {
      assert.ok(Date.now() < deadline, `the window never filled: ${JSON.stringify(await tiles())}`);
      await tab.waitForTimeout(200);
    }
    const readings: number[] = [];
    const chartEnds: (readonly (number | null)[])[] = [];
    for (let i = 0; i < 5; i++) {
      if (i > 0) await tab.waitForTimeout(1000);
      assert.equal((await tiles()).status, 'running', 'read while the fleet runs');
      readings.push(Number(await tab.locator('#n-rps').innerText()));
      // The rate chart draws the same trailing window as the tile, not each interval's lumps.
      const drawn = (await tiles()).charts.rps?.last;
      if (drawn) chartEnds.push(drawn);
      assert.equal(await tab.locator('#l-rps').innerText(), 'requests/s (last 10 s)', 'the tile names its window');
    }
    const deadlineDone = Date.now() + 20_000;
    while ((await tiles()).status !== 'finished') {
      assert.ok(Date.now() < deadlineDone, 'the run did not finish');
      await tab.waitForTimeout(200);
    }
    const results = (await (await tab.request.get(`${ui.base}/api/download/results.json`)).json()) as Results;
    const mean = results.total.rps;
    assert.ok(mean > 5, `the run's mean ${mean} req/s`);
    for (const reading of readings) {
      assert.ok(reading > 0, `a tile read 0 while the fleet ran: ${readings.join(', ')}`);
      assert.ok(Math.abs(reading - mean) <= 0.25 * mean, `tile ${reading} vs the run's mean ${mean} req/s (${readings.join(', ')})`);
    }
    assert.ok(chartEnds.length >= 4, `the rate chart drew: ${chartEnds.length}`);
    for (const [atS, rps] of chartEnds) {
      const point = results.history.find((each) => each.atS === atS) ?? assert.fail(`no interval at ${atS} s`);
      assert.equal(rps, point.recent?.rps, `the rate chart at ${atS} s draws the trailing window's rate`);
    }
    // The one-interval rates this replaced: lumpy where the tile is steady.
    const intervals = results.history.filter((point) => point.intervalS >= 0.9).map((point) => point.total.rps);
    process.stdout.write(`# tiles ${readings.join(', ')}; run mean ${mean}; 1-s intervals ${intervals.join(', ')}\n`);
    assert.deepEqual(errors, [], 'no console errors (no favicon 404)');
    assert.deepEqual(notFound, [], 'no 404s');
  } finally {
    await browser.close();
    exit = await quitUi(ui);
  }
  assert.equal(exit.code, 0, exit.stderr);
});
