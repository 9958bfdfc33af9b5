import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFile } from 'node:fs/promises';
import type { Results } from '../../src/metrics/results.ts';
import { runCli } from '../helpers/cli.ts';
import { useHttpFixture } from '../helpers/http-fixture-suite.ts';

const suite = useHttpFixture();

async function runShard(name: string, args: readonly string[]): Promise<Results> {
  const json = suite.temp.file(`${name}.json`);
  const result = await runCli(['run', ...args, '--json', json, '--quiet']);
  assert.equal(result.code, 0, result.stderr);
  return JSON.parse(await readFile(json, 'utf8')) as Results;
}

test('stages: each shard runs its stripe of every stage target, and the spawn rate is split', { timeout: 60_000 }, async () => {
  const args = ['profiles/iot-node-flat-out.yaml', '--target', suite.url, '--stage', '1s:7', '--stage', '1s:4', '--seed', '3'];
  const shards = await Promise.all([0, 1].map((i) => runShard(`stages-${i}of2`, [...args, '--shard', `${i}/2`])));
  // Global indices 0..6: shard 0 owns 0,2,4,6 and shard 1 owns 1,3,5; the second stage keeps 0..3.
  assert.deepEqual(
    shards.map((shard) => shard.devices.target),
    [4, 3],
  );
  assert.deepEqual(
    shards.map((shard) => shard.devices.started),
    [4, 3],
  );
  const lastTarget = shards.map((shard) => shard.history.at(-1)?.devicesTarget);
  assert.deepEqual(lastTarget, [2, 2]);
});

test('--start-at: shards wait for it, and say so; a past time starts at once with a warning', { timeout: 60_000 }, async () => {
  // Far enough ahead for two CLIs to start on a busy machine.
  const startAt = new Date(Date.now() + 8000);
  const args = ['run', 'profiles/iot-node-flat-out.yaml', '--target', suite.url, '-u', '2', '--iterations', '1', '--start-at', startAt.toISOString()];
  const [a, b] = await Promise.all([runCli([...args, '--shard', '0/2', '--json', suite.temp.file('start-0.json')]), runCli([...args, '--shard', '1/2', '--json', suite.temp.file('start-1.json')])]);
  for (const result of [a, b]) {
    assert.equal(result.code, 0, result.stderr);
    assert.match(result.stderr, /Waiting [\d.]+ s for --start-at/);
  }
  for (const i of [0, 1]) {
    const results = JSON.parse(await readFile(suite.temp.file(`start-${i}.json`), 'utf8')) as Results;
    assert.ok(Date.parse(results.startedAt) >= startAt.getTime() - 5, `shard ${i} started at ${results.startedAt}, before ${startAt.toISOString()}`);
  }
  const past = await runCli(['run', 'profiles/iot-node-flat-out.yaml', '--target', suite.url, '-u', '1', '--iterations', '1', '--quiet', '--start-at', new Date(Date.now() - 60_000).toISOString()]);
  assert.equal(past.code, 0, past.stderr);
  assert.match(past.stderr, /warning: --start-at \S+ was 6\d\.\d s ago: starting now/);
});
