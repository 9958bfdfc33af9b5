import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFile } from 'node:fs/promises';
import path from 'node:path';
import type { CoordinatedResults } from '../../src/distributed/coordinated-merge.ts';
import { createHistogram, recordMicros, summarize } from '../../src/metrics/histogram.ts';
import type { Results } from '../../src/metrics/results.ts';
import { ROOT, runCli, startCli } from '../helpers/cli.ts';
import { useHttpFixture } from '../helpers/http-fixture-suite.ts';

const suite = useHttpFixture();
const TOKEN = 'test-token-0123456789';

interface LogLine {
  readonly device: number;
  readonly seq: number;
  readonly type: string;
  readonly name: string;
  readonly target: string;
  readonly body: string;
  readonly latencyMs: number;
}

async function logLines(file: string): Promise<LogLine[]> {
  return (await readFile(file, 'utf8'))
    .trim()
    .split('\n')
    .map((line) => JSON.parse(line) as LogLine);
}

const sent = (lines: readonly LogLine[]): string[] => lines.map(({ device, seq, type, name, target, body }) => JSON.stringify([device, seq, type, name, target, body])).sort();

/** p50 and p99 of the log's latencies, through the same 3-significant-digit HDR histogram a run uses. */
function fromLog(lines: readonly LogLine[]): { p50: number | null; p99: number | null } {
  const histogram = createHistogram();
  for (const line of lines) recordMicros(histogram, line.latencyMs * 1000);
  const { p50, p99 } = summarize(histogram);
  return { p50, p99 };
}

/** Connections the fixture accepted from now on. */
function countConnections(): () => number {
  let connections = 0;
  const onConnection = (): void => void connections++;
  suite.server.server.on('connection', onConnection);
  return () => {
    suite.server.server.off('connection', onConnection);
    return connections;
  };
}

const routeCounts = (): Record<string, number> => Object.fromEntries(Object.entries(suite.server.counts).map(([route, count]) => [route, count.requests]));
const minus = (after: Record<string, number>, before: Record<string, number>): Record<string, number> =>
  Object.fromEntries(Object.entries(after).map(([route, n]) => [route, n - (before[route] ?? 0)]));

test('one seeded fleet as one process and as a coordinator with 3 worker processes: the same load, logs, connections and percentiles', { timeout: 90_000 }, async () => {
  // A pool of 6 connections for the fleet: one process opens 6, three workers 2 each.
  const profile = await suite.temp.write(
    'fleet.yaml',
    `kind: profile\nname: fleet\nseed: 5\nfleet:\n  - device: ${path.join(ROOT, 'devices/iot-node-flat-out.yaml')}\n    count: 30\nspawnRate: 300\niterations: 6\nhttp:\n  connections: 6\n`,
  );
  const shape = ['--target', suite.url];

  const beforeSingle = routeCounts();
  const singleConnections = countConnections();
  const single = await runCli(['run', profile, ...shape, '--quiet', '--json', suite.temp.file('single.json'), '--log-requests', suite.temp.file('single.ndjson')]);
  assert.equal(single.code, 0, single.stderr);
  const singleSeen = singleConnections();
  const singleRoutes = minus(routeCounts(), beforeSingle);

  const beforeFleet = routeCounts();
  const fleetConnections = countConnections();
  const coordinator = startCli([
    'coordinate',
    profile,
    ...shape,
    '--workers',
    '3',
    '--listen',
    '127.0.0.1:0',
    '--token',
    TOKEN,
    '--json',
    suite.temp.file('fleet.json'),
    '--log-requests',
    suite.temp.file('fleet.ndjson'),
  ]);
  await coordinator.waitForStderr(/listening on (http:\/\/[^\s]+)\./);
  const url = /listening on (http:\/\/[^\s]+)\./.exec(coordinator.stderrSoFar())?.[1] ?? '';
  const workers = [0, 1, 2].map(() => startCli(['worker', '--join', url, '--token', TOKEN, '--quiet']));
  const ends = await Promise.all(workers.map((worker) => worker.done));
  for (const end of ends) assert.equal(end.code, 0, end.stderr);
  const done = await coordinator.done;
  assert.equal(done.code, 0, done.stderr);
  const fleetSeen = fleetConnections();
  const fleetRoutes = minus(routeCounts(), beforeFleet);

  // The server's own counts, per route, and the connections it accepted.
  assert.deepEqual(fleetRoutes, singleRoutes);
  assert.equal(fleetSeen, singleSeen, `connections at the server: one process ${singleSeen}, coordinated ${fleetSeen}`);
  assert.equal(singleSeen, 6);

  const one = JSON.parse(await readFile(suite.temp.file('single.json'), 'utf8')) as Results;
  const fleet = JSON.parse(await readFile(suite.temp.file('fleet.json'), 'utf8')) as CoordinatedResults;
  assert.deepEqual(
    fleet.stats.map((row) => [row.type, row.name, row.requests]),
    one.stats.map((row) => [row.type, row.name, row.requests]),
  );
  assert.deepEqual(fleet.coordinator.lost, []);
  assert.deepEqual(
    fleet.coordinator.workers.map((worker) => worker.state),
    ['finished', 'finished', 'finished'],
  );

  // Identical request logs (what was sent, whatever the timing).
  const singleLog = await logLines(suite.temp.file('single.ndjson'));
  const fleetLog = await logLines(suite.temp.file('fleet.ndjson'));
  assert.deepEqual(sent(fleetLog), sent(singleLog));

  // The merged percentiles are those of the fleet's own request log, to HDR's 3 significant digits.
  const recomputed = fromLog(fleetLog);
  assert.deepEqual({ p50: fleet.total.latencyMs.p50, p99: fleet.total.latencyMs.p99 }, recomputed);
  // Per interval: the intervals' counts add up to the fleet's, and an interval holding the whole
  // log has the log's percentiles (merged from the workers' interval histograms, not the worst).
  assert.equal(
    fleet.history.reduce((sum, point) => sum + point.total.requests, 0),
    fleet.total.requests,
  );
  for (const point of fleet.history) {
    if (point.total.requests === fleet.total.requests) assert.deepEqual({ p50: point.total.latencyMs.p50, p99: point.total.latencyMs.p99 }, recomputed);
  }

  // A common start: the workers' first intervals began within 50 ms, measured and in the results.
  assert.ok(fleet.coordinator.startSpreadMs !== null && fleet.coordinator.startSpreadMs <= 50, `spread ${String(fleet.coordinator.startSpreadMs)} ms`);
  assert.match(done.stderr, /Workers' first intervals began within \d+ ms of each other\./);
});

test('a worker killed mid-run is named in the results, the others keep their counts, and the exit says the fleet was incomplete', { timeout: 90_000 }, async () => {
  const profile = await suite.temp.write(
    'long.yaml',
    `kind: profile\nname: long\nseed: 9\nfleet:\n  - device: ${path.join(ROOT, 'devices/iot-node.yaml')}\n    count: 6\nspawnRate: 60\nduration: 8s\ndrainTimeout: 2s\n`,
  );
  const json = suite.temp.file('killed.json');
  const coordinator = startCli(['coordinate', profile, '--target', suite.url, '--workers', '3', '--listen', '127.0.0.1:0', '--token', TOKEN, '--lost-after', '2s', '--json', json]);
  await coordinator.waitForStderr(/listening on (http:\/\/[^\s]+)\./);
  const url = /listening on (http:\/\/[^\s]+)\./.exec(coordinator.stderrSoFar())?.[1] ?? '';
  const workers = [0, 1, 2].map(() => startCli(['worker', '--join', url, '--token', TOKEN]));
  // Each worker says which one it is; the coordinator's live line shows all three running.
  await Promise.all(workers.map((worker) => worker.waitForStderr(/Joined .* as worker \d of 3/)));
  await coordinator.waitForStderr('(3/3 workers)');
  const victim = workers.find((worker) => /as worker 1 of 3/.test(worker.stderrSoFar()));
  assert.ok(victim);
  victim.child.kill('SIGKILL');
  const done = await coordinator.done;
  await Promise.all(workers.map((worker) => worker.done));
  assert.equal(done.code, 97, done.stderr);
  assert.match(done.stderr, /worker 1 \(shard 1\/3, 127\.0\.0\.1\) was lost: silent for/);
  assert.match(done.stderr, /the fleet was incomplete: worker 1 of 3 lost/);
  const results = JSON.parse(await readFile(json, 'utf8')) as CoordinatedResults;
  assert.deepEqual(results.coordinator.lost, [1]);
  const lost = results.coordinator.workers[1];
  assert.equal(lost?.state, 'lost');
  assert.ok((lost?.intervals ?? 0) > 0, 'the lost worker streamed intervals before it died');
  assert.deepEqual(results.merged.missing, [1]);
  const kept = results.coordinator.workers.filter((worker) => worker.state === 'finished');
  assert.equal(kept.length, 2);
  assert.equal(
    results.total.requests,
    kept.reduce((sum, worker) => sum + worker.requests, 0),
  );
  assert.ok(results.total.requests > 0);
  // Its intervals until the end stay in the fleet's history.
  assert.ok(results.history.reduce((sum, point) => sum + point.total.requests, 0) >= results.total.requests + (lost?.requests ?? 0));
});

test('a worker with the wrong token is refused, exit 2', { timeout: 30_000 }, async () => {
  const coordinator = startCli(['coordinate', 'profiles/iot-node-flat-out.yaml', '--target', suite.url, '--workers', '1', '--listen', '127.0.0.1:0', '--token', TOKEN, '--lost-after', '1s']);
  await coordinator.waitForStderr(/listening on (http:\/\/[^\s]+)\./);
  const url = /listening on (http:\/\/[^\s]+)\./.exec(coordinator.stderrSoFar())?.[1] ?? '';
  const wrong = await runCli(['worker', '--join', url, '--token', 'not-the-token']);
  assert.equal(wrong.code, 2);
  assert.match(wrong.stderr, /answered 401 to \/join: a wrong or missing token/);
  assert.doesNotMatch(wrong.stderr, /not-the-token|test-token/);
  coordinator.child.kill('SIGINT');
  await coordinator.done;
});
