import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFile } from 'node:fs/promises';
import { resultsOfStats } from '../../helpers/results.ts';
import type { Results } from '../../../src/metrics/results.ts';
import { RunStats } from '../../../src/metrics/stats.ts';
import { htmlReport, loadPageAssets, scriptJson } from '../../../src/report/html-report.ts';

const HOSTILE = '</script><script>alert(1)</script><!--';

function results(): Results {
  const stats = new RunStats();
  stats.entryFor('POST', HOSTILE).record('ok', undefined, 1_500, -1, 2, false);
  stats.entryFor('GET', '/never');
  stats.snapshot(1000, 1, 1, { busyPercent: 95, lagP99Ms: 2 });
  const partial = resultsOfStats(stats, { version: '0', seed: '5', profileSha256: 'abc', endedAt: new Date('2026-01-01T00:00:01Z'), warnings: ['a <warning>'] });
  return { ...partial, thresholds: [{ expr: 'p95 < 1ms', ok: false, value: 1.5 }] };
}

test('embedded JSON carries no "<" and parses back to the same value', () => {
  const value = { name: HOSTILE, line: 'a\u2028b' };
  const text = scriptJson(value);
  assert.ok(!text.includes('<'));
  assert.deepEqual(JSON.parse(text), value);
});

test('the page escapes names, shows - for a row without samples, and inlines uPlot', async () => {
  const assets = await loadPageAssets();
  const page = htmlReport({ results: results() }, assets);
  assert.equal(page.split(HOSTILE).length, 1, 'the hostile name never appears raw');
  assert.ok(page.includes('&lt;/script&gt;&lt;script&gt;alert(1)'));
  assert.ok(page.includes('a &lt;warning&gt;'));
  assert.equal((page.match(/<\/script>/g) ?? []).length, 3, 'the data, uPlot and the page script: three script elements, each closed once');
  assert.ok(page.includes(assets.uplotJs.slice(0, 200)));
  const never = /<tr><td class="text">GET<\/td><td class="text">\/never<\/td>(.*?)<\/tr>/.exec(page)?.[1] ?? '';
  assert.match(never, /<td>-<\/td>/);
  for (const id of ['rps', 'latency', 'devices', 'generator']) assert.ok(page.includes(`data-chart="${id}"`), id);
  assert.ok(!page.includes('data-chart="capacity"'), 'no capacity section without capacity steps');
  assert.match(page, /class="fail">FAIL/);
});

test('capacity steps, when given, get their own section and chart', async () => {
  const steps = [
    { devices: 100, rps: 20, latencyMs: { p50: 1, p95: 4, p99: 9 }, failureRate: 0, ok: true },
    { devices: 200, rps: 38.5, latencyMs: { p50: 3, p95: 40, p99: null }, failureRate: 0.02, ok: false },
  ];
  const page = htmlReport({ results: results(), capacity: { steps } }, await loadPageAssets());
  assert.ok(page.includes('data-chart="capacity"'));
  assert.match(page, /<td>200<\/td><td>38\.50<\/td><td>40\.0<\/td><td>-<\/td><td>2\.00%<\/td>/);
});

test("merged shards that abandoned attempts for different causes: the page gives each shard's", async () => {
  const assets = await loadPageAssets();
  const page = htmlReport({ results: { ...results(), abandoned: 7, abandonCause: 'shard 0: second interrupt; shard 2: drain timeout' } }, assets);
  assert.ok(page.includes('<dt>Abandoned (shard 0: second interrupt; shard 2: drain timeout)</dt><dd>7</dd>'));
});

test('the page script is src/report/browser/report-page.js, read once per process and inlined as written', async () => {
  const first = loadPageAssets();
  assert.equal(loadPageAssets(), first, 'a second report reuses the first read');
  const assets = await first;
  const file = await readFile(new URL('../../../src/report/browser/report-page.js', import.meta.url), 'utf8');
  assert.equal(assets.reportScript, file);
  const page = htmlReport({ results: results() }, assets);
  assert.ok(page.includes(`<script>${file}</script>`));
  assert.doesNotMatch(page, /<script[^>]* src=/);
});
