import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFile } from 'node:fs/promises';
import path from 'node:path';
import { pathToFileURL } from 'node:url';
import type { CoordinatedResults } from '../../src/distributed/coordinated-merge.ts';
import type { MergedResults } from '../../src/distributed/merge.ts';
import type { Results } from '../../src/metrics/results.ts';
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
  assert.match(workers.stderr, /worker 0 joined from 127\.0\.0\.1 \(\d\/2\): shard 0\/2, pid \d+/);
  assert.match(workers.stderr, /worker 1 joined from 127\.0\.0\.1 \(\d\/2\): shard 1\/2, pid \d+/);
  const one = JSON.parse(await readFile(suite.temp.file('single.json'), 'utf8')) as Results;
  const merged = JSON.parse(await readFile(suite.temp.file('workers.json'), 'utf8')) as MergedResults;
  assert.deepEqual(merged.merged.missing, []);
  assert.equal(merged.devices.started, one.devices.started);
  assert.deepEqual(
    merged.stats.map((row) => [row.type, row.name, row.requests, row.failures]),
    one.stats.map((row) => [row.type, row.name, row.requests, row.failures]),
  );
  assert.deepEqual(await sentLines(suite.temp.file('workers.ndjson')), await sentLines(suite.temp.file('single.ndjson')));
  assert.equal(merged.shards.length, 2);
});

test('a worker killed mid-run is lost at once and its shard marked missing; the run ends when the other drains, within its drain timeout, exit 97', { timeout: 60_000 }, async () => {
  // The flat-out iot-node with a short drain timeout, so "within the drain timeout" is a tight bound.
  const profile = await suite.temp.write(
    'drain.yaml',
    `kind: profile\nname: drain\nseed: 3\nfleet:\n  - device: ${path.join(ROOT, 'devices/iot-node-flat-out.yaml')}\n    count: 20\nspawnRate: 20\nduration: 6s\ndrainTimeout: 2s\n`,
  );
  const json = suite.temp.file('killed.json');
  const run = startCli(['run', profile, '--target', suite.url, '--workers', '2', '--json', json]);
  let stderr = '';
  run.child.stderr?.on('data', (chunk: string) => (stderr += chunk));
  const joined = /worker 1 joined from [^:]*: shard 1\/2, pid (\d+)/;
  await run.waitForStderr(joined);
  // Both workers are running once the live line counts them.
  await run.waitForStderr('(2/2 workers)');
  const pid = Number(joined.exec(stderr)?.[1]);
  assert.ok(Number.isSafeInteger(pid), stderr);
  process.kill(pid, 'SIGKILL');
  const result = await run.done;
  const endedAt = Date.now();
  assert.equal(result.code, 97, result.stderr);
  // Its process's end, not --lost-after's silence, says it is lost.
  assert.match(result.stderr, /worker 1 \(shard 1\/2, 127\.0\.0\.1\) was lost: its process was killed by SIGKILL; its data until then is kept/);
  assert.match(result.stderr, /the fleet was incomplete: worker 1 of 2 lost/);
  const merged = JSON.parse(await readFile(json, 'utf8')) as CoordinatedResults;
  assert.deepEqual(merged.coordinator.lost, [1]);
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

test(
  '--workers 3: one common start (spread within 50 ms, in the results), and the token never shown',
  { timeout: 60_000, skip: process.platform !== 'linux' && "reads the workers' environment from /proc" },
  async () => {
    const profile = await suite.temp.write(
      'spread.yaml',
      `kind: profile\nname: spread\nseed: 8\nfleet:\n  - device: ${path.join(ROOT, 'devices/iot-node-flat-out.yaml')}\n    count: 9\nspawnRate: 90\nduration: 3s\n`,
    );
    const files = { json: suite.temp.file('spread.json'), html: suite.temp.file('spread.html'), log: suite.temp.file('spread.ndjson'), csv: suite.temp.file('spread') };
    const run = startCli(['run', profile, '--target', suite.url, '--workers', '3', '--json', files.json, '--html', files.html, '--csv', files.csv, '--log-requests', files.log]);
    const joined = /joined from [^:]*: shard \d\/3, pid (\d+)/g;
    await run.waitForStderr(/All 3 workers ready/);
    // The token is in each worker's environment (where only this user can read it), never on its command line.
    const pids = [...run.stderrSoFar().matchAll(joined)].map((match) => Number(match[1]));
    assert.equal(pids.length, 3, run.stderrSoFar());
    const tokens = new Set<string>();
    for (const pid of pids) {
      const environ = (await readFile(`/proc/${pid}/environ`, 'utf8')).split('\0');
      const token = environ.find((entry) => entry.startsWith('FLEETSIM_TOKEN='))?.slice('FLEETSIM_TOKEN='.length);
      assert.ok(token !== undefined && token.length >= 32, `worker ${pid} has no token in its environment`);
      tokens.add(token);
      assert.ok(!(await readFile(`/proc/${pid}/cmdline`, 'utf8')).includes(token), 'the token is on a command line');
    }
    assert.equal(tokens.size, 1);
    const [token] = [...tokens] as [string];
    const result = await run.done;
    assert.equal(result.code, 0, result.stderr);
    const results = JSON.parse(await readFile(files.json, 'utf8')) as CoordinatedResults;
    assert.deepEqual(
      results.coordinator.workers.map((worker) => worker.state),
      ['finished', 'finished', 'finished'],
    );
    // Each worker sets a timer for the one common instant; how late a timer fires is the machine's
    // load (53 ms beside two other test files on 2 cores), while workers started on joining would be
    // apart by the spawns between their joins. The bound tells those apart, not the machine's speed.
    assert.ok(results.coordinator.startSpreadMs !== null && results.coordinator.startSpreadMs <= 250, `spread ${String(results.coordinator.startSpreadMs)} ms`);
    assert.match(result.stderr, /Workers' first intervals began within \d+ ms of each other\./);
    assert.equal(results.devices.started, 9);
    const written = {
      stdout: result.stdout,
      stderr: result.stderr,
      ...Object.fromEntries(
        await Promise.all([files.json, files.html, files.log, `${files.csv}_stats.csv`, `${files.csv}_stats_history.csv`].map(async (file) => [file, await readFile(file, 'utf8')])),
      ),
    } as Record<string, string>;
    for (const [where, text] of Object.entries(written)) assert.ok(!text.includes(token), `the token is in ${where}`);
    assert.doesNotMatch(result.stderr, /--token|Workers join with/);
  },
);

/** Loaded into every process of the run (NODE_OPTIONS): the first worker to start exits before it joins. */
const FIRST_WORKER_DIES = `import { openSync } from 'node:fs';
if (process.argv.includes('--join')) {
  try {
    openSync(process.env.DIES_FIRST, 'wx');
    process.exit(3);
  } catch {}
}
`;

test('a worker process that ends before joining: the fleet cannot start whole, the others are stopped at once, exit 97', { timeout: 60_000 }, async () => {
  const hook = await suite.temp.write('first-worker-dies.mjs', FIRST_WORKER_DIES);
  const env = { NODE_OPTIONS: `${process.env.NODE_OPTIONS ?? ''} --import ${pathToFileURL(hook).href}`, DIES_FIRST: suite.temp.file('died') };
  const result = await startCli(['run', 'profiles/iot-node-flat-out.yaml', '--target', suite.url, '-u', '6', '-t', '10m', '--workers', '3'], 50_000, undefined, undefined, env).done;
  assert.equal(result.code, 97, result.stderr);
  assert.match(result.stderr, /a local worker \(pid \d+, which exited with code 3 before joining\) ended before the common start: the fleet cannot start whole/);
  assert.match(result.stderr, /the fleet never started/);
  assert.doesNotMatch(result.stderr, /internal error|\n\s+at /);
  // Its exit said so: not --lost-after's silence, nor a barrier held for good (the test's deadline).
  assert.doesNotMatch(result.stderr, /silent for/);
});

test('Ctrl-C on run --workers: the workers drain and send their results, the merged report is written, exit 130', { timeout: 60_000 }, async () => {
  const profile = await suite.temp.write(
    'long.yaml',
    `kind: profile\nname: long\nseed: 3\nfleet:\n  - device: ${path.join(ROOT, 'devices/iot-node.yaml')}\n    count: 6\nspawnRate: 60\nduration: 10m\ndrainTimeout: 2s\n`,
  );
  const json = suite.temp.file('interrupted.json');
  const run = startCli(['run', profile, '--target', suite.url, '--workers', '2', '--json', json], 50_000);
  await run.waitForStderr('(2/2 workers)');
  run.child.kill('SIGINT');
  const result = await run.done;
  assert.equal(result.code, 130, result.stderr);
  assert.match(result.stderr, /Interrupted: telling the workers to stop/);
  assert.doesNotMatch(result.stderr, /was lost/);
  const results = JSON.parse(await readFile(json, 'utf8')) as CoordinatedResults;
  assert.deepEqual(
    results.coordinator.workers.map((worker) => worker.state),
    ['finished', 'finished'],
  );
  assert.ok(results.total.requests > 0);
});
