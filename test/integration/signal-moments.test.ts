import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { readFile, readdir } from 'node:fs/promises';
import path from 'node:path';
import { HttpFixture } from '../../broker-fixture/index.ts';
import type { Results } from '../../src/metrics/results.ts';
import { ROOT, startCli } from '../helpers/cli.ts';
import type { CliRun } from '../helpers/cli.ts';
import { pollUntil } from '../helpers/poll.ts';
import { TempDir } from '../helpers/temp-files.ts';

// Every moment of a run's life, a first SIGINT or SIGTERM ends it with every report and its code;
// a second still writes them; a third quits with the code and none. The target answers slowly
// (5 s), so attempts are in flight when a run ends, and its drain always lasts its whole 2 s.
const DRAIN_MS = 2000;
const LATENCY_MS = 5000;

type Signal = 'SIGINT' | 'SIGTERM';

interface Moment {
  readonly name: string;
  /** The line the offset counts from; undefined: from when the process holds signals (its title is set). */
  readonly after?: RegExp;
  readonly offsetMs: number;
  readonly signal: Signal;
  /** How many times the signal is sent (1 ms apart after the first has been acted on). */
  readonly times?: 1 | 2 | 3;
  /** Waits for the --start-at barrier. */
  readonly startAt?: boolean;
}

const RUNNING = /^Running moments:/m;
const WAITING = /^Waiting \S+ s for --start-at/m;
const PROGRESS = /^\[2s/m;
const DRAINING = /^Run ended \(duration\): draining/m;

const MOMENTS: readonly Moment[] = [
  { name: 'as soon as it holds signals', offsetMs: 0, signal: 'SIGINT' },
  { name: 'loading, 150 ms in', offsetMs: 150, signal: 'SIGTERM' },
  { name: 'loading, 400 ms in', offsetMs: 400, signal: 'SIGINT' },
  { name: 'loading, 700 ms in', offsetMs: 700, signal: 'SIGTERM' },
  { name: 'at the Running line (warm-up)', after: RUNNING, offsetMs: 0, signal: 'SIGINT' },
  { name: 'warm-up, 300 ms on', after: RUNNING, offsetMs: 300, signal: 'SIGTERM' },
  { name: 'pre-connect, 700 ms on', after: RUNNING, offsetMs: 700, signal: 'SIGINT' },
  { name: 'pre-connect, 1200 ms on', after: RUNNING, offsetMs: 1200, signal: 'SIGTERM' },
  { name: 'at the start barrier', after: WAITING, offsetMs: 0, signal: 'SIGTERM', startAt: true },
  { name: 'in the start barrier, 500 ms on', after: WAITING, offsetMs: 500, signal: 'SIGINT', startAt: true },
  { name: 'running, at the first progress line', after: PROGRESS, offsetMs: 0, signal: 'SIGINT' },
  { name: 'running, 500 ms after it', after: PROGRESS, offsetMs: 500, signal: 'SIGTERM' },
  { name: 'running, 1.9 s after the Running line', after: RUNNING, offsetMs: 1900, signal: 'SIGINT' },
  { name: 'draining, at its line', after: DRAINING, offsetMs: 0, signal: 'SIGTERM' },
  { name: 'draining, 300 ms on', after: DRAINING, offsetMs: 300, signal: 'SIGINT' },
  { name: 'draining, 1 s on', after: DRAINING, offsetMs: 1000, signal: 'SIGTERM' },
  { name: 'draining, near its end', after: DRAINING, offsetMs: 1800, signal: 'SIGINT' },
  { name: 'twice while loading', offsetMs: 300, signal: 'SIGINT', times: 2 },
  { name: 'twice while draining', after: DRAINING, offsetMs: 0, signal: 'SIGTERM', times: 2 },
  { name: 'three times while running', after: PROGRESS, offsetMs: 0, signal: 'SIGTERM', times: 3 },
];

let temp: TempDir;
let slow: HttpFixture;
let target: string;
let profile: string;

before(async () => {
  temp = await TempDir.create();
  slow = new HttpFixture({ latencyMs: LATENCY_MS });
  target = await slow.listen(0);
  profile = await temp.write(
    'moments.yaml',
    `kind: profile
name: moments
seed: 7
fleet:
  - device: ${path.join(ROOT, 'devices/iot-node.yaml')}
    count: 4
spawnRate: 4
duration: 3s
drainTimeout: ${DRAIN_MS / 1000}s
`,
  );
});

after(async () => {
  await slow.close();
  await temp.remove();
});

async function titled(run: CliRun): Promise<void> {
  // The entry point sets the process title on the line after it starts holding signals.
  const pid = run.child.pid as number;
  await pollUntil(`process ${pid} to hold signals`, () => cmdline(pid).startsWith('fleetsim run'), 20_000);
}

function cmdline(pid: number): string {
  try {
    return readFileSync(`/proc/${pid}/cmdline`, 'utf8');
  } catch {
    return '';
  }
}

function send(run: CliRun, signal: Signal): void {
  run.child.kill(signal);
}

async function check(moment: Moment, index: number): Promise<void> {
  const base = temp.file(`m${index}`);
  const files = { json: `${base}.json`, csv: `${base}-csv`, html: `${base}.html`, log: `${base}.ndjson` };
  const args = ['run', profile, '--target', target, '--json', files.json, '--csv', files.csv, '--html', files.html, '--log-requests', files.log];
  if (moment.startAt) args.push('--start-at', new Date(Date.now() + 10_000).toISOString());
  const run = startCli(args, 60_000);
  await titled(run);
  if (moment.after) await run.waitForStderr(moment.after, 30_000);
  if (moment.offsetMs > 0) await new Promise((resolve) => setTimeout(resolve, moment.offsetMs));
  const sentAt = Date.now();
  const times = moment.times ?? 1;
  send(run, moment.signal);
  if (times >= 2) {
    // The next signal counts as a second only once the first was heard: its line says so.
    await run.waitForStderr(/Interrupted|Terminated/, 10_000);
    send(run, moment.signal);
  }
  if (times === 3) {
    await run.waitForStderr(/Abandoning in-flight requests/, 10_000);
    send(run, moment.signal);
  }
  const result = await run.done;
  const tookMs = Date.now() - sentAt;
  const context = `${moment.name}: ${result.stderr}`;
  assert.ok(tookMs < DRAIN_MS + 5000, `${moment.name}: ended ${tookMs} ms after the signal`);
  assert.equal(result.signal, null, context);
  assert.equal(result.code, moment.signal === 'SIGINT' ? 130 : 143, context);
  assert.doesNotMatch(result.stderr, /internal error|\n\s+at /, context);
  if (times === 3) return;
  const results = JSON.parse(await readFile(files.json, 'utf8')) as Results;
  assert.ok(['interrupted', 'terminated', 'duration'].includes(results.stopReason), context);
  // A run stopped before its clock started is an empty run, and says so in valid reports.
  assert.ok(results.total.requests >= 0 && Number.isFinite(results.total.rps), context);
  const logLines = (await readFile(files.log, 'utf8')).split('\n').filter(Boolean);
  for (const line of logLines) JSON.parse(line);
  const csvFiles = (await readdir(temp.dir)).filter((name) => name.startsWith(`m${index}-csv_`)).sort();
  assert.deepEqual(csvFiles, [`m${index}-csv_exceptions.csv`, `m${index}-csv_failures.csv`, `m${index}-csv_stats.csv`, `m${index}-csv_stats_history.csv`], context);
  const stats = (await readFile(`${files.csv}_stats.csv`, 'utf8')).trim().split('\n');
  assert.match(stats[0] ?? '', /^Type,Name,Request Count/, context);
  assert.match(stats.at(-1) ?? '', /,Aggregated,/, context);
  assert.match(await readFile(files.html, 'utf8'), /<\/html>\s*$/, context);
}

// Four at a time: the moments are independent runs, and the machine's cores are few.
const BATCH = 4;
for (let first = 0; first < MOMENTS.length; first += BATCH) {
  const batch = MOMENTS.slice(first, first + BATCH);
  test(`signals at ${batch.map((moment) => moment.name).join('; ')}`, { timeout: 60_000 }, async () => {
    await Promise.all(batch.map((moment, i) => check(moment, first + i)));
  });
}
