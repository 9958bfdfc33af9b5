import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { stat } from 'node:fs/promises';
import { pathToFileURL } from 'node:url';
import type { Page } from 'playwright-core';
import { chromiumSkip, launchChromium } from '../helpers/chromium.ts';
import { runCli } from '../helpers/cli.ts';
import { TempDir } from '../helpers/temp-files.ts';

// 200 ms pacing: 1 device sends about 5 req/s (passes 'rps < 12'), 4 devices about 20 (the knee).
const DEVICE = `kind: device
name: views
tasks:
  - name: /data
    http: { method: POST, path: /data, json: { temperature: "{{ int(1, 40) }}", humidity: "{{ int(1, 99) }}" } }
wait:
  model: pacing
  interval: 200ms
`;

const PROFILE = `kind: profile
name: views
seed: 4
fleet:
  - device: views.device.yaml
    count: 4
spawnRate: 50
duration: 60s
`;

const VIEWPORT = { width: 1280, height: 800 };

let temp: TempDir;
before(async () => {
  temp = await TempDir.create();
  await temp.write('views.device.yaml', DEVICE);
  await temp.write('views.yaml', PROFILE);
});
after(async () => {
  await temp.remove();
});

interface View {
  readonly name: string;
  readonly args: (html: string) => string[];
  readonly verdict: RegExp;
  readonly setupChart: boolean;
}

const VIEWS: readonly View[] = [
  {
    name: 'http',
    args: (html) => ['run', 'profiles/iot-node.yaml', '-u', '10', '-r', '50', '-t', '3s', '--html', html, '--quiet'],
    verdict: /2 thresholds: all passed: failures < 1% \(0%\); p95 < 500ms \([\d.]+ ms\)/,
    setupChart: false,
  },
  {
    name: 'mqtt',
    args: (html) => ['run', 'profiles/mqtt-sensor.yaml', '-u', '10', '-r', '50', '-t', '3s', '--html', html, '--quiet'],
    verdict: /1 threshold: all passed: failures < 1% \(0%\)/,
    setupChart: true,
  },
  {
    name: 'capacity',
    args: (html) => [
      'capacity',
      temp.file('views.yaml'),
      '--slo',
      'rps < 12',
      '--start',
      '1',
      '--step',
      '3',
      '--max-devices',
      '4',
      '--step-duration',
      '2s',
      '--settle',
      '1s',
      '--html',
      html,
      '--quiet',
    ],
    verdict: /Capacity: /,
    setupChart: false,
  },
];

const chartText = (tab: Page, id: string): Promise<string> => tab.locator(`[data-chart="${id}"]`).innerText();

test(
  'the HTML report of an HTTP run, an MQTT run and a capacity search: no row twice, session setup on its own chart, the verdict in the first screen',
  { timeout: 90_000, skip: chromiumSkip() },
  async () => {
    const browser = await launchChromium();
    try {
      for (const view of VIEWS) {
        const html = temp.file(`${view.name}.html`);
        const result = await runCli(view.args(html), 40_000);
        assert.ok(result.code === 0 || result.code === 99, `${view.name}: exit ${result.code}\n${result.stderr}`);
        const tab = await browser.newPage({ viewport: VIEWPORT });
        const errors: string[] = [];
        tab.on('console', (message) => {
          if (message.type() === 'error') errors.push(message.text());
        });
        await tab.goto(pathToFileURL(html).href, { waitUntil: 'load' });
        await tab.waitForSelector('body[data-charts-ready]');

        const rows = (await tab.locator('#stats tr').allInnerTexts()).slice(1).map((row) => row.split('\t').slice(0, 2).join(' '));
        assert.equal(new Set(rows).size, rows.length, `${view.name}: a row printed twice: ${rows.join(' | ')}`);
        // The same figures under another name (a type's aggregate over its only active row) are a duplicate too.
        const figures = (await tab.locator('#stats tr:not(.aggregate)').allInnerTexts())
          .slice(1)
          .map((row) => row.split('\t').slice(2).join(' '))
          .filter((row) => !row.startsWith('0 '));
        assert.equal(new Set(figures).size, figures.length, `${view.name}: the same figures twice: ${figures.join(' | ')}`);

        const verdict = tab.locator('#verdict');
        assert.match(await verdict.innerText(), view.verdict, view.name);
        const box = (await verdict.boundingBox()) ?? assert.fail(`${view.name}: no verdict box`);
        assert.ok(box.height > 0 && box.y + box.height <= VIEWPORT.height, `${view.name}: the verdict ends at ${box.y + box.height} px, below the first ${VIEWPORT.height} px`);

        const latency = await chartText(tab, 'latency');
        assert.ok(!/CONNECT|SUBSCRIBE/.test(latency), `${view.name}: session setup on the traffic chart: ${latency}`);
        if (view.setupChart) {
          const setup = await chartText(tab, 'setup');
          assert.match(setup, /CONNECT/, `${view.name}: the setup chart`);
          assert.match(latency, /PUBLISH/, `${view.name}: traffic on its own chart`);
        } else assert.equal(await tab.locator('[data-chart="setup"]').count(), 0, `${view.name}: no setup chart without setup rows`);

        const shot = temp.file(`${view.name}.png`);
        await tab.screenshot({ path: shot });
        assert.ok((await stat(shot)).size > 10_000, `${view.name}: the screenshot`);
        assert.deepEqual(errors, [], `${view.name}: console errors`);
        await tab.close();
      }
    } finally {
      await browser.close();
    }
  },
);
