import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import type { ChildProcess } from 'node:child_process';
import { existsSync } from 'node:fs';
import { readFile } from 'node:fs/promises';
import path from 'node:path';
import type { CapacityReport } from '../../src/cli/capacity-command.ts';
import type { Results } from '../../src/metrics/results.ts';
import { ROOT } from '../helpers/cli.ts';
import type { CliResult } from '../helpers/cli.ts';
import { startChildServer } from '../helpers/child-server.ts';
import type { ChildServer } from '../helpers/child-server.ts';
import { TempDir } from '../helpers/temp-files.ts';

// Each test compares fleetsim's verdict on the load it delivered with what the server itself counted.

const PACED = `kind: device
name: paced
tasks:
  - name: /data
    http: { method: POST, path: /data, json: { t: "{{ int(1, 40) }}" } }
wait: { model: pacing, interval: 100ms }
`;

let temp: TempDir;
let halfRate: ChildServer;
let fast: ChildServer;
const canPin = existsSync('/usr/bin/taskset') && existsSync('/usr/bin/nice');

before(async () => {
  temp = await TempDir.create();
  await temp.write('paced.device.yaml', PACED);
  // One request at a time, 10 ms each: 100 req/s, half of what 20 devices paced at 100 ms offer.
  halfRate = await startChildServer('test/helpers/serial-server.ts', { SERVICE_MS: '10' });
  // No service time, on the other core from fleetsim when the test pins it.
  fast = await startChildServer('test/helpers/serial-server.ts', { SERVICE_MS: '0' }, canPin ? ['taskset', '-c', '1'] : []);
});
after(async () => {
  await halfRate.stop();
  await fast.stop();
  await temp.remove();
});

async function profile(name: string, devices: number, extra = ''): Promise<string> {
  return temp.write(
    `${name}.yaml`,
    `kind: profile\nname: ${name}\nseed: 11\nfleet:\n  - device: paced.device.yaml\n    count: ${devices}\nspawnRate: 1000\nhttp: { connectionPerDevice: true }\n${extra}`,
  );
}

interface Spawned {
  readonly child: ChildProcess;
  readonly done: Promise<CliResult>;
  waitForStderr(text: string, ms: number): Promise<void>;
}

/** The real CLI, behind `prefix` (taskset, nice), killed at the deadline. */
function fleetsim(args: readonly string[], prefix: readonly string[] = [], deadlineMs = 90_000): Spawned {
  const command = [...prefix, process.execPath, '--import', 'tsx', path.join(ROOT, 'src/cli/bin.ts'), ...args];
  const child = spawn(command[0] as string, command.slice(1), { cwd: ROOT, stdio: ['ignore', 'pipe', 'pipe'], env: { ...process.env, NO_COLOR: '1' } });
  let stdout = '';
  let stderr = '';
  const waiters = new Set<() => void>();
  child.stdout.setEncoding('utf8').on('data', (chunk: string) => (stdout += chunk));
  child.stderr.setEncoding('utf8').on('data', (chunk: string) => {
    stderr += chunk;
    for (const waiter of waiters) waiter();
  });
  const killer = setTimeout(() => child.kill('SIGKILL'), deadlineMs);
  const done = new Promise<CliResult>((resolve) => {
    child.on('close', (code, signal) => {
      clearTimeout(killer);
      resolve({ code, signal, stdout, stderr });
    });
  });
  const waitForStderr = (text: string, ms: number): Promise<void> =>
    new Promise((resolve, reject) => {
      const check = (): void => {
        if (!stderr.includes(text)) return;
        waiters.delete(check);
        clearTimeout(timer);
        resolve();
      };
      const timer = setTimeout(() => {
        waiters.delete(check);
        reject(new Error(`stderr never showed ${text}:\n${stderr}`));
      }, ms);
      waiters.add(check);
      check();
    });
  return { child, done, waitForStderr };
}

/** A busy loop on core 0 at normal priority: a fleetsim started with `nice -n 19` beside it gets about 1.5% of that core. */
function hog(): ChildProcess {
  return spawn('taskset', ['-c', '0', process.execPath, '-e', 'for (;;) {}'], { stdio: 'ignore' });
}

async function serverCount(server: ChildServer, route: string): Promise<number> {
  const counts = (await (await fetch(`${server.url}/__fixture/counts`)).json()) as Record<string, { requests: number }>;
  return counts[route]?.requests ?? 0;
}

async function resetCounts(server: ChildServer): Promise<number> {
  return serverCount(server, 'POST /data');
}

test('a paced fleet against a server that serves half its rate: ~50% delivered, the target named, exit 99', { timeout: 60_000 }, async () => {
  const before = await resetCounts(halfRate);
  const json = temp.file('half.json');
  const csv = temp.file('half');
  // 12 s: the verdict's trailing window is 10 s, and an interval is judged once its window is full.
  const result = await fleetsim(['run', await profile('half', 20), '--target', halfRate.url, '-t', '12s', '--json', json, '--csv', csv]).done;
  assert.equal(result.code, 99, result.stderr + result.stdout);
  const results = JSON.parse(await readFile(json, 'utf8')) as Results;
  const served = (await serverCount(halfRate, 'POST /data')) - before;
  assert.equal(results.total.requests, served, 'every request fleetsim counted, the server served');
  const load = results.load;
  assert.ok(load, 'the results carry the load verdict');
  assert.equal(load.cause, 'target');
  // 20 devices every 100 ms offer 200 req/s; the server answers 100.
  assert.ok(Math.abs(load.offeredRps - 200) < 10, `offered ${load.offeredRps} req/s`);
  assert.ok(load.deliveredShare !== null && load.deliveredShare > 0.4 && load.deliveredShare < 0.6, `delivered ${load.deliveredShare}`);
  assert.ok(Math.abs(load.deliveredRps - served / results.activeS) < 5, `delivered ${load.deliveredRps} req/s; the server served ${served} in ${results.activeS} s`);
  const row = results.stats.find((stat) => stat.name === '/data');
  assert.equal(row?.delivered, row?.requests);
  assert.ok(row?.offeredRps !== undefined && row.deliveredShare !== undefined);
  assert.match(result.stdout, /the target answered \d+(\.\d)? of \d+(\.\d)? req\/s/);
  assert.match(result.stdout, /FAILED: [\d.]+% of the offered load delivered, the target's limit/);
  // Steady intervals say the same, in the JSON history and the CSV history's extra columns.
  const judged = results.history.filter((point) => point.atS > 10.5 && point.atS <= 12);
  assert.ok(judged.length > 0 && judged.every((point) => point.load?.cause === 'target'), JSON.stringify(judged.map((point) => point.load)));
  const history = (await readFile(`${csv}_stats_history.csv`, 'utf8')).trim().split('\r\n');
  const header = (history[0] ?? '').split(',');
  assert.deepEqual(header.slice(-3), ['Offered Requests/s', 'Delivered Share', 'Shortfall']);
  assert.ok(
    history.some((line) => line.endsWith(',target')),
    history.join('\n'),
  );
});

test('the same fleet beside a busy loop on its own core: the host is named, not the target, and the exit is not 0', { timeout: 90_000, skip: canPin ? false : 'taskset or nice missing' }, async () => {
  const before = await resetCounts(fast);
  const json = temp.file('host.json');
  // A load fleetsim delivers easily on its own: 20 devices, 200 req/s, against a server with no service time.
  const run = fleetsim(['run', await profile('host', 20), '--target', fast.url, '-t', '8s', '--json', json], ['taskset', '-c', '0', 'nice', '-n', '19']);
  await run.waitForStderr('Running host', 30_000);
  const busy = hog();
  let result: CliResult;
  try {
    result = await run.done;
  } finally {
    busy.kill('SIGKILL');
  }
  assert.equal(result.code, 98, result.stderr + result.stdout);
  const results = JSON.parse(await readFile(json, 'utf8')) as Results;
  assert.equal(results.total.requests, (await serverCount(fast, 'POST /data')) - before);
  assert.equal(results.load?.cause, 'host', JSON.stringify(results.load));
  assert.ok((results.load?.deliveredShare ?? 1) < 0.95);
  assert.ok((results.generator.runQueuePercent ?? 0) >= 20, `fleetsim waited for a CPU ${results.generator.runQueuePercent}% of the run`);
  assert.match(result.stdout, /INCONCLUSIVE: .*the machine's CPU was the limit/);
  assert.match(result.stdout, /Run it on a quieter machine/);
  assert.doesNotMatch(result.stdout, /run fewer devices/);
});

test("a fleet too large for fleetsim's own loop: the generator is named", { timeout: 60_000, skip: canPin ? false : 'taskset missing' }, async () => {
  const json = temp.file('generator.json');
  // 400 devices at 250 tasks a second each: 100,000 req/s offered, far past one core.
  await temp.write('flood.device.yaml', PACED.replace('name: paced', 'name: flood').replace('{ model: pacing, interval: 100ms }', '{ model: throughput, perSecond: 250 }'));
  // On undici, whose cost per request (about twice the native client's) fills fleetsim's core before the
  // fixture's: with the native client the one-threaded fixture on the other core gives out first, and
  // the verdict rightly names the target.
  const flood = await temp.write(
    'flood.yaml',
    'kind: profile\nname: flood\nseed: 3\nfleet:\n  - device: flood.device.yaml\n    count: 400\nspawnRate: 4000\nhttp: { connectionPerDevice: true, client: undici }\n',
  );
  const result = await fleetsim(['run', flood, '--target', fast.url, '-t', '5s', '--json', json], ['taskset', '-c', '0']).done;
  const results = JSON.parse(await readFile(json, 'utf8')) as Results;
  const load = results.load;
  assert.ok(load && load.deliveredShare !== null && load.deliveredShare < 0.95, JSON.stringify(load));
  assert.equal(result.code, 98, result.stdout);
  // Busy on its own work; when another program also wanted the core, the classifier says host instead, never target.
  const contended = (results.generator.runQueuePercent ?? 0) >= 20;
  assert.equal(load.cause, contended ? 'host' : 'generator', `${JSON.stringify(load)} ${JSON.stringify(results.generator)}`);
  if (!contended) assert.match(result.stdout, /INCONCLUSIVE: .*fleetsim's own loop was the limit/);
});

test('a step search beside a busy loop on its own core never blames the target', { timeout: 120_000, skip: canPin ? false : 'taskset or nice missing' }, async () => {
  const json = temp.file('capacity-host.json');
  await temp.write('closed.device.yaml', PACED.replace('name: paced', 'name: closed').replace('{ model: pacing, interval: 100ms }', '{ model: constant, time: 100ms }'));
  const closed = await temp.write('closed.yaml', 'kind: profile\nname: closed\nseed: 5\nfleet:\n  - device: closed.device.yaml\n    count: 10\nspawnRate: 1000\nhttp: { connectionPerDevice: true }\n');
  const args = ['capacity', closed, '--target', fast.url, '--slo', 'p95 < 200ms', '--start', '20', '--step', '20', '--max-devices', '60', '--step-duration', '2s', '--settle', '1s', '--json', json];
  const search = fleetsim(args, ['taskset', '-c', '0', 'nice', '-n', '19'], 110_000);
  // The hog starts once fleetsim is up (its start-up alone would take a minute at 1.5% of a core).
  await search.waitForStderr('Capacity search on closed', 30_000);
  const busy = hog();
  let result: CliResult;
  try {
    result = await search.done;
  } finally {
    busy.kill('SIGKILL');
  }
  assert.equal(result.code, 0, result.stderr);
  const report = JSON.parse(await readFile(json, 'utf8')) as CapacityReport;
  assert.notEqual(report.limitedBy, 'target', result.stdout);
  assert.ok(
    report.steps.every((step) => step.ok || step.cause !== 'target'),
    result.stdout,
  );
});
