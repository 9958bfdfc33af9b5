import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFile } from 'node:fs/promises';
import { loadPageAssets } from '../../../src/report/html-report.ts';
import { uiPage } from '../../../src/ui/ui-page.ts';

test('the live page inlines uPlot and src/ui/browser/live-page.js as written, and loads no script', async () => {
  const page = (await uiPage())();
  const script = await readFile(new URL('../../../src/ui/browser/live-page.js', import.meta.url), 'utf8');
  const { uplotJs } = await loadPageAssets();
  assert.ok(page.includes(`<script>${script}</script>`));
  assert.ok(page.indexOf(uplotJs.slice(0, 200)) < page.indexOf(script), 'uPlot comes before the script that calls it');
  assert.doesNotMatch(page, /<script[^>]* src=/);
  assert.equal((page.match(/<\/script>/g) ?? []).length, 2, 'uPlot and the page script, each closed once');
});
