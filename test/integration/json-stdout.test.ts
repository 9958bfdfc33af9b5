import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFile } from 'node:fs/promises';
import type { MergedResults } from '../../src/distributed/merge.ts';
import type { Results } from '../../src/metrics/results.ts';
import { runCli } from '../helpers/cli.ts';
import { useHttpFixture } from '../helpers/http-fixture-suite.ts';

const suite = useHttpFixture();
const RUN = ['run', 'profiles/iot-node-flat-out.yaml', '-u', '4', '--iterations', '2', '--seed', '8'];

/** The requests of the same run in one process, written to a file: what the merged results must count. */
async function singleRun(): Promise<{ file: string; requests: number }> {
  const file = suite.temp.file('single.json');
  const run = await runCli([...RUN, '--target', suite.url, '--quiet', '--json', file]);
  assert.equal(run.code, 0, run.stderr);
  const results = JSON.parse(await readFile(file, 'utf8')) as Results;
  assert.ok(results.total.requests > 0);
  return { file, requests: results.total.requests };
}

test('merge --json -: the merged results on stdout, the summary on stderr', { timeout: 60_000 }, async () => {
  const single = await singleRun();
  const merge = await runCli(['merge', single.file, '--json', '-', '--quiet']);
  assert.equal(merge.code, 0, merge.stderr);
  const merged = JSON.parse(merge.stdout) as MergedResults;
  assert.deepEqual([merged.merged.count, merged.total.requests], [1, single.requests]);
  assert.match(merge.stderr, new RegExp(`Aggregated\\s+${single.requests}\\s`));
});

test('run --workers 2 --json -: the merged results on stdout, the summary on stderr', { timeout: 60_000 }, async () => {
  const single = await singleRun();
  const workers = await runCli([...RUN, '--target', suite.url, '--workers', '2', '--json', '-', '--quiet']);
  assert.equal(workers.code, 0, workers.stderr);
  const merged = JSON.parse(workers.stdout) as MergedResults;
  assert.deepEqual([merged.merged.present, merged.total.requests], [[0, 1], single.requests]);
  assert.match(workers.stderr, new RegExp(`Aggregated\\s+${single.requests}\\s`));
});
