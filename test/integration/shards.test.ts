import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFile } from 'node:fs/promises';
import type { Results } from '../../src/metrics/results.ts';
import { execute } from '../../src/cli/main.ts';
import type { MergedResults } from '../../src/distributed/merge.ts';
import { PERCENTILES } from '../../src/metrics/histogram.ts';
import { runCli } from '../helpers/cli.ts';
import { useHttpFixture } from '../helpers/http-fixture-suite.ts';

const suite = useHttpFixture();

interface ShardRun {
  readonly lines: string[];
  readonly results: Results;
  readonly json: string;
  readonly stderr: string;
}

/** One run (or one shard of it): its request log's reproducible part, and its results. */
async function runShard(name: string, args: readonly string[]): Promise<ShardRun> {
  const log = suite.temp.file(`${name}.ndjson`);
  const json = suite.temp.file(`${name}.json`);
  const result = await runCli(['run', ...args, '--log-requests', log, '--json', json, '--quiet']);
  assert.equal(result.code, 0, result.stderr);
  const text = (await readFile(log, 'utf8')).trim();
  const lines =
    text === ''
      ? []
      : text.split('\n').map((line) => {
          const { device, seq, type, name: rowName, target, body } = JSON.parse(line) as Record<string, unknown>;
          return JSON.stringify([device, seq, type, rowName, target, body]);
        });
  return { lines, results: JSON.parse(await readFile(json, 'utf8')) as Results, json, stderr: result.stderr };
}

/** The single-process run and its three shards, the shards launched together. */
async function singleAndShards(name: string, args: readonly string[]): Promise<{ single: ShardRun; shards: ShardRun[] }> {
  const single = await runShard(`${name}-single`, args);
  const shards = await Promise.all([0, 1, 2].map((i) => runShard(`${name}-${i}of3`, [...args, '--shard', `${i}/3`])));
  return { single, shards };
}

function assertShardsUniteIntoSingle(single: ShardRun, shards: readonly ShardRun[]): void {
  const union = shards.flatMap((shard) => shard.lines).sort();
  assert.equal(union.length, single.lines.length);
  assert.deepEqual(union, [...single.lines].sort());
  // Every device is in exactly one shard.
  const devicesOf = (run: ShardRun): Set<unknown> => new Set(run.lines.map((line) => (JSON.parse(line) as unknown[])[0]));
  const seen = shards.map(devicesOf);
  for (let a = 0; a < seen.length; a++) for (let b = a + 1; b < seen.length; b++) for (const device of seen[a] ?? []) assert.ok(!seen[b]?.has(device), `device ${String(device)} in two shards`);
  shards.forEach((shard, i) => assert.deepEqual(shard.results.shard, { index: i, count: 3 }));
  assert.deepEqual(single.results.shard, { index: 0, count: 1 });
  const sum = (pick: (run: ShardRun) => number): number => shards.reduce((total, shard) => total + pick(shard), 0);
  assert.equal(
    sum((run) => run.results.devices.target),
    single.results.devices.target,
  );
  assert.equal(
    sum((run) => run.results.devices.started),
    single.results.devices.started,
  );
  assert.equal(
    sum((run) => run.results.total.requests),
    single.results.total.requests,
  );
}

/** `fleetsim merge` in this process (the CLI's own code path), returning its exit code and output. */
async function merge(args: readonly string[]): Promise<{ code: number; stdout: string; stderr: string }> {
  let stdout = '';
  let stderr = '';
  const code = await execute(['merge', ...args], { stdout: (text) => (stdout += `${text}\n`), stderr: (text) => (stderr += `${text}\n`) });
  return { code, stdout, stderr };
}

/** The shards' results merge into the single run's counts; the max is the largest shard max, and percentiles are ordered. */
async function assertMergeMatchesSingle(name: string, single: ShardRun, shards: readonly ShardRun[]): Promise<void> {
  const out = suite.temp.file(`${name}-merged.json`);
  const result = await merge([...shards.map((shard) => shard.json), '--json', out, '--csv', suite.temp.file(`${name}-merged`)]);
  assert.equal(result.code, 0, result.stderr);
  assert.match(result.stderr, /^Merged 3 of 3 shards/);
  assert.match(result.stdout, /Aggregated/);
  const merged = JSON.parse(await readFile(out, 'utf8')) as MergedResults;
  const counts = (results: Results): unknown[] => results.stats.map((row) => [row.type, row.name, row.requests, row.failures, row.bytesIn]);
  assert.deepEqual(counts(merged), counts(single.results));
  assert.equal(merged.total.requests, single.results.total.requests);
  assert.equal(merged.devices.started, single.results.devices.started);
  assert.equal(merged.total.latencyMs.max, Math.max(...shards.map((shard) => shard.results.total.latencyMs.max ?? 0)));
  for (const row of [merged.total, ...merged.stats, ...merged.types]) {
    const values = [row.latencyMs.min, ...PERCENTILES.map(([key]) => row.latencyMs[key]), row.latencyMs.max] as number[];
    assert.deepEqual(
      values,
      [...values].sort((a, b) => a - b),
      `${row.type} ${row.name}`,
    );
  }
  assert.deepEqual(
    merged.shards.map((shard) => shard.index),
    [0, 1, 2],
  );
  const csv = await readFile(suite.temp.file(`${name}-merged_stats.csv`), 'utf8');
  assert.match(csv, new RegExp(`\r\n,Aggregated,${merged.total.requests},`));

  const twoOfThree = [shards[0]?.json ?? '', shards[2]?.json ?? ''];
  const refused = await merge([...twoOfThree, '--json', suite.temp.file(`${name}-refused.json`)]);
  assert.equal(refused.code, 2);
  assert.match(refused.stderr, /^fleetsim: merge: missing shard 1\/3 \(have 2 of 3\); pass --partial/);
  const partial = await merge([...twoOfThree, '--partial', '--json', suite.temp.file(`${name}-partial.json`)]);
  assert.equal(partial.code, 0, partial.stderr);
  assert.match(partial.stderr, /Partial: shard 1\/3 missing/);
  const partialResults = JSON.parse(await readFile(suite.temp.file(`${name}-partial.json`), 'utf8')) as MergedResults;
  assert.equal(partialResults.merged.partial, true);
  assert.equal(partialResults.total.requests, (shards[0]?.results.total.requests ?? 0) + (shards[2]?.results.total.requests ?? 0));
  const duplicate = await merge([shards[0]?.json ?? '', shards[0]?.json ?? '', shards[1]?.json ?? '']);
  assert.equal(duplicate.code, 2);
  assert.match(duplicate.stderr, /shard 0\/3 again/);
}

test('iot-node: the request logs of --shard 0/3, 1/3, 2/3 unite into exactly the single-process log, and merge into its counts', { timeout: 60_000 }, async () => {
  const { single, shards } = await singleAndShards('iot', ['profiles/iot-node-flat-out.yaml', '--target', suite.url, '-u', '40', '-r', '400', '--iterations', '5', '--seed', '11']);
  assert.equal(single.lines.length, 40 * 6);
  assertShardsUniteIntoSingle(single, shards);
  await assertMergeMatchesSingle('iot', single, shards);
  // 40 devices striped over 3: 14, 13, 13.
  assert.deepEqual(
    shards.map((shard) => shard.results.devices.target),
    [14, 13, 13],
  );
});

test('lamp against the embedded broker: shards unite into the single-process log and counts, CONNECTs included', { timeout: 60_000 }, async () => {
  const { single, shards } = await singleAndShards('lamp', ['profiles/lamp-flat-out.yaml', '-u', '20', '-r', '200', '--iterations', '3', '--seed', '11']);
  // Each lamp: one CONNECT, then 3 touches of 10 publishes.
  assert.equal(single.lines.length, 20 * (1 + 3 * 10));
  assertShardsUniteIntoSingle(single, shards);
  await assertMergeMatchesSingle('lamp', single, shards);
  for (const shard of shards) assert.match(shard.stderr, /embedded MQTT broker/);
});
