import { test } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync } from 'node:fs';
import { readdir, readFile } from 'node:fs/promises';
import { startCli } from '../helpers/cli.ts';
import { useHttpFixture } from '../helpers/http-fixture-suite.ts';

const suite = useHttpFixture();

test('reports that hit the file-size limit leave no partial file, and say what failed in words', { timeout: 30_000 }, async () => {
  const json = suite.temp.file('results.json');
  const html = suite.temp.file('report.html');
  const log = suite.temp.file('requests.ndjson');
  // 16 blocks of 512 bytes: the results JSON, the HTML report and the request log all outgrow it.
  const run = startCli(
    ['run', 'profiles/iot-node-flat-out.yaml', '-u', '10', '--iterations', '30', '--target', suite.url, '--json', json, '--html', html, '--log-requests', log, '--quiet'],
    30_000,
    undefined,
    16,
  );
  const result = await run.done;
  assert.equal(result.code, 2, result.stderr);
  assert.match(result.stderr, /^fleetsim: --json: file too large \(ulimit -f\) \(EFBIG\) writing \S*results\.json$/m);
  assert.match(result.stderr, /^fleetsim: --html: file too large \(ulimit -f\) \(EFBIG\) writing \S*report\.html$/m);
  assert.match(result.stderr, /^fleetsim: --log-requests: file too large \(ulimit -f\) \(EFBIG\) writing \S*requests\.ndjson$/m);
  assert.doesNotMatch(result.stderr, /^\s+at /m, 'no stack trace');
  // The summary still reached stdout.
  assert.match(result.stdout, /Aggregated\s+310/);
  // Whole files or none: no results, no report, no temporary file left beside them.
  assert.equal(existsSync(json), false, 'no partial results.json');
  assert.equal(existsSync(html), false, 'no partial report.html');
  assert.deepEqual(
    (await readdir(suite.temp.dir)).filter((name) => name.endsWith('.tmp')),
    [],
  );
  // The log's first 64 KB flush already failed part-way: what it wrote was cut back to nothing.
  assert.equal(await readFile(log, 'utf8'), '');
});

test('a request log that fills up mid-run ends on its last whole line', { timeout: 30_000 }, async () => {
  const log = suite.temp.file('long.ndjson');
  // 80 KB: the first 64 KB flush fits, the second is cut off part-way.
  const run = startCli(['run', 'profiles/iot-node-flat-out.yaml', '-u', '10', '--iterations', '60', '--target', suite.url, '--log-requests', log, '--quiet'], 30_000, undefined, 160);
  const result = await run.done;
  assert.equal(result.code, 2, result.stderr);
  assert.match(result.stderr, /^fleetsim: --log-requests: file too large \(ulimit -f\) \(EFBIG\) writing \S*long\.ndjson$/m);
  assert.match(result.stdout, /Aggregated\s+610/);
  const text = await readFile(log, 'utf8');
  assert.ok(text.length > 65_536 && text.length < 160 * 512, `log of ${text.length} bytes`);
  assert.ok(text.endsWith('\n'), 'the log ends on a whole line');
  const lines = text
    .trimEnd()
    .split('\n')
    .map((line) => JSON.parse(line) as { device: string; outcome: string });
  assert.ok(lines.length < 610);
  assert.ok(lines.every((line) => line.outcome === 'ok' && line.device.length > 0));
});
