import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFile, rm } from 'node:fs/promises';
import path from 'node:path';
import type { MergedResults } from '../../src/distributed/merge.ts';
import type { Results } from '../../src/metrics/results.ts';
import { pathToFileURL } from 'node:url';
import { ROOT, runCli, startCli } from '../helpers/cli.ts';
import { useHttpFixture } from '../helpers/http-fixture-suite.ts';

const suite = useHttpFixture();

const sentLines = async (file: string): Promise<string[]> =>
  (await readFile(file, 'utf8'))
    .trim()
    .split('\n')
    .map((line) => {
      const { device, seq, type, name, target, body } = JSON.parse(line) as Record<string, unknown>;
      return JSON.stringify([device, seq, type, name, target, body]);
    })
    .sort();

test('--workers 2: one result and one request log, equal to a one-process run with the same seed', { timeout: 60_000 }, async () => {
  const args = ['run', 'profiles/iot-node-flat-out.yaml', '--target', suite.url, '-u', '30', '--iterations', '4', '--seed', '21'];
  const single = await runCli([...args, '--quiet', '--json', suite.temp.file('single.json'), '--log-requests', suite.temp.file('single.ndjson')]);
  assert.equal(single.code, 0, single.stderr);
  const workers = await runCli([...args, '--workers', '2', '--json', suite.temp.file('workers.json'), '--log-requests', suite.temp.file('workers.ndjson')]);
  assert.equal(workers.code, 0, workers.stderr);
  assert.match(workers.stderr, /worker 0: shard 0\/2, pid \d+/);
  assert.match(workers.stderr, /worker 1: shard 1\/2, pid \d+/);
  const one = JSON.parse(await readFile(suite.temp.file('single.json'), 'utf8')) as Results;
  const merged = JSON.parse(await readFile(suite.temp.file('workers.json'), 'utf8')) as MergedResults;
  assert.deepEqual(merged.merged.missing, []);
  assert.equal(merged.devices.started, one.devices.started);
  assert.deepEqual(merged.stats.map((row) => [row.type, row.name, row.requests, row.failures]), one.stats.map((row) => [row.type, row.name, row.requests, row.failures]));
  assert.deepEqual(await sentLines(suite.temp.file('workers.ndjson')), await sentLines(suite.temp.file('single.ndjson')));
  assert.equal(merged.shards.length, 2);
});

test('a worker killed mid-run is reported and its shard marked missing; the run ends when the other drains, within its drain timeout', { timeout: 60_000 }, async () => {
  // The flat-out iot-node with a short drain timeout, so "within the drain timeout" is a tight bound.
  const profile = await suite.temp.write('drain.yaml', `kind: profile\nname: drain\nseed: 3\nfleet:\n  - device: ${path.join(ROOT, 'devices/iot-node-flat-out.yaml')}\n    count: 20\nspawnRate: 20\nduration: 6s\ndrainTimeout: 2s\n`);
  const json = suite.temp.file('killed.json');
  const run = startCli(['run', profile, '--target', suite.url, '--workers', '2', '--json', json]);
  let stderr = '';
  run.child.stderr?.on('data', (chunk: string) => (stderr += chunk));
  await run.waitForStderr(/worker 1: shard 1\/2, pid \d+/);
  // Both workers are running once the live line counts them.
  await run.waitForStderr('(2/2 workers)');
  const pid = Number(/worker 1: shard 1\/2, pid (\d+)/.exec(stderr)?.[1]);
  assert.ok(Number.isSafeInteger(pid), stderr);
  process.kill(pid, 'SIGKILL');
  const result = await run.done;
  const endedAt = Date.now();
  assert.equal(result.code, 1, result.stderr);
  assert.match(result.stderr, /worker 1 \(shard 1\/2\) was killed by SIGKILL: its shard is missing from the results/);
  assert.match(result.stderr, /1 of 2 shards missing \(1\/2\)/);
  const merged = JSON.parse(await readFile(json, 'utf8')) as MergedResults;
  assert.deepEqual([merged.merged.partial, merged.merged.missing, merged.merged.present], [true, [1], [0]]);
  assert.ok(merged.total.requests > 0);
  assert.match(merged.warnings[0] ?? '', /^partial merge: shard 1\/2 missing/);
  // The surviving worker ran its 6 s and drained within the 2 s drain timeout; the parent then ended
  // at once (merging and writing), rather than waiting on the dead one.
  const survivor = merged.shards[0];
  assert.equal(survivor?.stopReason, 'duration');
  const drainMs = Date.parse(survivor.endedAt) - (Date.parse(survivor.startedAt) + merged.activeS * 1000);
  assert.ok(drainMs <= 2_000 + 250, `drained for ${drainMs} ms`);
  assert.ok(endedAt - Date.parse(survivor.endedAt) < 10_000, `the parent ended ${endedAt - Date.parse(survivor.endedAt)} ms after the surviving worker`);
});

/**
 * Loaded into every process of the run (NODE_OPTIONS): worker 1, once it has written its results,
 * spoils them as a crashed or foreign writer would, before the parent reads them.
 */
const SPOIL_SHARD_1 = `import { readFileSync, writeFileSync } from 'node:fs';
const argv = process.argv;
if (process.env.WORKER_OF_A_FLEETSIM_RUN && argv[argv.indexOf('--shard') + 1] === '1/2') {
  process.on('exit', () => {
    const file = argv[argv.indexOf('--json') + 1];
    const text = readFileSync(file, 'utf8');
    writeFileSync(file, process.env.SPOIL === 'truncate' ? text.slice(0, text.length >> 1) : '{"schema":"someone-else/v3","rows":[]}');
  });
}
`;

for (const [spoil, reason] of [['truncate', /: not JSON \(/], ['foreign', /: not a fleetsim results file/]] as const) {
  test(`a worker whose results file is ${spoil === 'truncate' ? 'truncated' : 'foreign JSON'}: the merge's own message naming the file, exit 2`, { timeout: 60_000 }, async () => {
    const hook = await suite.temp.write('spoil-shard-1.mjs', SPOIL_SHARD_1);
    const args = ['run', 'profiles/iot-node-flat-out.yaml', '--target', suite.url, '-u', '4', '--iterations', '2', '--seed', '5', '--workers', '2', '--json', suite.temp.file(`spoiled-${spoil}.json`)];
    const env = { NODE_OPTIONS: `${process.env.NODE_OPTIONS ?? ''} --import ${pathToFileURL(hook).href}`, SPOIL: spoil };
    const result = await startCli(args, 60_000, undefined, undefined, env).done;
    assert.equal(result.code, 2, result.stderr);
    const message = result.stderr.split('\n').find((line) => reason.test(line)) ?? '';
    const [, file, what, kept] = /^fleetsim: worker 1 \((.*[/\\]1\.json)\): (.*); the workers' files are kept in (.*)$/.exec(message) ?? [];
    assert.ok(file !== undefined && what !== undefined && kept !== undefined, result.stderr);
    assert.doesNotMatch(result.stderr, /internal error|^\s+at /m);
    try {
      // `merge` given the same file says the same of it.
      const merge = await runCli(['merge', file]);
      assert.equal(merge.code, 2, merge.stderr);
      assert.equal(merge.stderr.trim(), `fleetsim: ${file}: ${what}`);
    } finally {
      await rm(kept, { recursive: true, force: true });
    }
  });
}
