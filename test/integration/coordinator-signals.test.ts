import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFile } from 'node:fs/promises';
import { createServer } from 'node:net';
import type { AddressInfo } from 'node:net';
import path from 'node:path';
import type { CoordinatedResults } from '../../src/distributed/coordinated-merge.ts';
import { ROOT, startCli } from '../helpers/cli.ts';
import type { CliRun } from '../helpers/cli.ts';
import { useHttpFixture } from '../helpers/http-fixture-suite.ts';
import { pollUntil } from '../helpers/poll.ts';

const suite = useHttpFixture();
const TOKEN = 'test-token-0123456789';
const LISTENING = /listening on (http:\/\/[^\s]+)\./;

/** A run far longer than any test: only a stop ends it. */
const longProfile = (name: string): Promise<string> =>
  suite.temp.write(
    `${name}.yaml`,
    `kind: profile\nname: ${name}\nseed: 3\nfleet:\n  - device: ${path.join(ROOT, 'devices/iot-node.yaml')}\n    count: 6\nspawnRate: 60\nduration: 10m\ndrainTimeout: 2s\n`,
  );

async function coordinatorUrl(coordinator: CliRun): Promise<string> {
  await coordinator.waitForStderr(LISTENING);
  return LISTENING.exec(coordinator.stderrSoFar())?.[1] ?? '';
}

test('Ctrl-C at the coordinator stops its remote workers: they drain and send their results, the merged report is written, exit 130', { timeout: 60_000 }, async () => {
  const profile = await longProfile('stop-remote');
  const json = suite.temp.file('stop-remote.json');
  const coordinator = startCli(['coordinate', profile, '--target', suite.url, '--workers', '2', '--listen', '127.0.0.1:0', '--token', TOKEN, '--json', json], 50_000);
  const url = await coordinatorUrl(coordinator);
  const workers = [0, 1].map(() => startCli(['worker', '--join', url, '--token', TOKEN], 50_000));
  await coordinator.waitForStderr('(2/2 workers)');
  coordinator.child.kill('SIGINT');
  const done = await coordinator.done;
  const ends = await Promise.all(workers.map((worker) => worker.done));
  assert.equal(done.code, 130, done.stderr);
  assert.match(done.stderr, /Interrupted: telling the workers to stop/);
  assert.doesNotMatch(done.stderr, /was lost/);
  for (const end of ends) {
    // Each worker stopped as on its own Ctrl-C: drained, sent its results, exit 130.
    assert.equal(end.code, 130, end.stderr);
    assert.match(end.stderr, /the coordinator says stop \(interrupted\)/);
  }
  const results = JSON.parse(await readFile(json, 'utf8')) as CoordinatedResults;
  assert.deepEqual(results.coordinator.lost, []);
  assert.deepEqual(
    results.coordinator.workers.map((worker) => worker.state),
    ['finished', 'finished'],
  );
  assert.ok(results.total.requests > 0);
  assert.equal(
    results.total.requests,
    results.coordinator.workers.reduce((sum, worker) => sum + worker.requests, 0),
  );
});

test('SIGTERM at a coordinator with --local workers: they drain rather than being killed, the report is written, exit 143', { timeout: 60_000 }, async () => {
  const profile = await longProfile('stop-local');
  const json = suite.temp.file('stop-local.json');
  const coordinator = startCli(['coordinate', profile, '--target', suite.url, '--workers', '2', '--local', '--listen', '127.0.0.1:0', '--token', TOKEN, '--json', json], 50_000);
  await coordinator.waitForStderr('(2/2 workers)');
  coordinator.child.kill('SIGTERM');
  const done = await coordinator.done;
  assert.equal(done.code, 143, done.stderr);
  assert.match(done.stderr, /Terminated \(SIGTERM\): telling the workers to stop/);
  assert.doesNotMatch(done.stderr, /was lost/);
  const results = JSON.parse(await readFile(json, 'utf8')) as CoordinatedResults;
  assert.deepEqual(
    results.coordinator.workers.map((worker) => worker.state),
    ['finished', 'finished'],
  );
  assert.ok(results.total.requests > 0);
});

test('a worker still trying to join ends at SIGTERM with 143 and runs nothing', { timeout: 30_000 }, async () => {
  // A coordinator that cannot be joined yet: every attempt is cut off, and the worker tries again.
  let attempts = 0;
  const refusing = createServer((socket) => {
    attempts++;
    socket.destroy();
  });
  await new Promise<void>((resolve) => refusing.listen(0, '127.0.0.1', resolve));
  try {
    const { port } = refusing.address() as AddressInfo;
    const worker = startCli(['worker', '--join', `http://127.0.0.1:${port}`, '--token', TOKEN], 20_000);
    await pollUntil('a join attempt', () => attempts > 0, 15_000);
    worker.child.kill('SIGTERM');
    const end = await worker.done;
    assert.equal(end.code, 143, `${String(end.signal)} ${end.stderr}`);
    assert.match(end.stderr, /Terminated \(SIGTERM\) before the run started: no run\./);
    assert.doesNotMatch(end.stderr, /Running |internal error|\n\s+at /);
  } finally {
    await new Promise((resolve) => refusing.close(resolve));
  }
});

test('a worker interrupted at the barrier ends (exit 130) instead of waiting there; the fleet cannot start whole, and the coordinator says so, exit 97', { timeout: 60_000 }, async () => {
  const profile = await longProfile('barrier');
  const coordinator = startCli(['coordinate', profile, '--target', suite.url, '--workers', '2', '--listen', '127.0.0.1:0', '--token', TOKEN], 50_000);
  const url = await coordinatorUrl(coordinator);
  // One of the two workers: the barrier cannot open.
  const worker = startCli(['worker', '--join', url, '--token', TOKEN], 20_000);
  await worker.waitForStderr(/Running barrier: /);
  worker.child.kill('SIGINT');
  const end = await worker.done;
  assert.equal(end.code, 130, `${String(end.signal)} ${end.stderr}`);
  assert.match(end.stderr, /Interrupted/);
  const done = await coordinator.done;
  assert.equal(done.code, 97, done.stderr);
  assert.match(done.stderr, /worker 0 ended before the common start: the fleet cannot start whole/);
  assert.match(done.stderr, /the fleet never started/);
});

test('a worker killed before the common start: the others are stopped rather than held at the barrier, exit 97', { timeout: 60_000 }, async () => {
  const profile = await longProfile('barrier-lost');
  const coordinator = startCli(['coordinate', profile, '--target', suite.url, '--workers', '3', '--listen', '127.0.0.1:0', '--token', TOKEN, '--lost-after', '2s'], 50_000);
  const url = await coordinatorUrl(coordinator);
  // Two of three: the barrier is still closed when one of them dies.
  const [victim, other] = [0, 1].map(() => startCli(['worker', '--join', url, '--token', TOKEN], 40_000));
  assert.ok(victim && other);
  await victim.waitForStderr(/Running barrier-lost: /);
  victim.child.kill('SIGKILL');
  const done = await coordinator.done;
  assert.equal(done.code, 97, done.stderr);
  assert.match(done.stderr, /was lost: silent for/);
  assert.match(done.stderr, /ended before the common start/);
  const end = await other.done;
  assert.equal(end.code, 130, `${String(end.signal)} ${end.stderr}`);
  assert.match(end.stderr, /the coordinator says stop \(interrupted\)/);
});

test('Ctrl-C that ends --linger keeps the run exit code, and the results were served meanwhile', { timeout: 60_000 }, async () => {
  const profile = await suite.temp.write(
    'linger.yaml',
    `kind: profile\nname: linger\nseed: 4\nfleet:\n  - device: ${path.join(ROOT, 'devices/iot-node-flat-out.yaml')}\n    count: 4\nspawnRate: 100\niterations: 3\n`,
  );
  const coordinator = startCli(['coordinate', profile, '--target', suite.url, '--workers', '2', '--local', '--listen', '127.0.0.1:0', '--token', TOKEN, '--linger', '5m', '--quiet'], 50_000);
  const serving = /Serving the results at (http:\/\/[^\s]+)\/results\.json/;
  await coordinator.waitForStderr(serving);
  const url = serving.exec(coordinator.stderrSoFar())?.[1] ?? '';
  const served = await fetch(`${url}/results.json`, { headers: { authorization: `Bearer ${TOKEN}` } });
  assert.equal(served.status, 200);
  const results = (await served.json()) as CoordinatedResults;
  assert.deepEqual(
    results.coordinator.workers.map((worker) => worker.state),
    ['finished', 'finished'],
  );
  assert.ok(results.total.requests > 0);
  coordinator.child.kill('SIGINT');
  const done = await coordinator.done;
  assert.equal(done.code, 0, done.stderr);
  assert.doesNotMatch(done.stderr, /telling the workers to stop/);
});

test('a worker declared lost (answered 410) stops its run instead of loading the target unseen', { timeout: 60_000 }, async () => {
  const profile = await longProfile('declared-lost');
  const coordinator = startCli(['coordinate', profile, '--target', suite.url, '--workers', '2', '--listen', '127.0.0.1:0', '--token', TOKEN, '--lost-after', '2s'], 50_000);
  const url = await coordinatorUrl(coordinator);
  const workers = [0, 1].map(() => startCli(['worker', '--join', url, '--token', TOKEN], 40_000));
  await coordinator.waitForStderr('(2/2 workers)');
  const victim = workers.find((worker) => /as worker 1 of 2/.test(worker.stderrSoFar()));
  assert.ok(victim);
  // Frozen past --lost-after, then thawed: its next heartbeat is answered 410.
  victim.child.kill('SIGSTOP');
  await coordinator.waitForStderr(/worker 1 \(shard 1\/2, [^)]*\) was lost: silent for/);
  victim.child.kill('SIGCONT');
  const end = await victim.done;
  assert.notEqual(end.signal, 'SIGKILL', 'it ended on its own, not at the test deadline');
  assert.match(end.stderr, /the coordinator says stop \(interrupted\)/);
  assert.match(end.stderr, /answered 410 to \/results/);
  coordinator.child.kill('SIGINT');
  const done = await coordinator.done;
  assert.equal(done.code, 130, done.stderr);
  const other = await workers.find((worker) => worker !== victim)?.done;
  assert.equal(other?.code, 130, other?.stderr);
});
