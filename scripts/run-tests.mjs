#!/usr/bin/env node
// Builds dist/ once, then runs the test files against the built CLI (a spawn from dist/ starts in
// about half the time of one through tsx), four files at a time: most integration tests wait on
// sockets and clocks far more than they compute, so four lanes keep 2 cores busy. The longest files
// start first. Files that only wait on a clock (an idle MQTT session watched for a minute) run beside
// all of them, and files listed in TESTS_ALONE (comma-separated) run one at a time after the rest.
// The waiting files' output is held and printed after the rest, so each stream reads in order. The
// last line is the verdict for every group: `tests: N passed, N failed`.
import { spawn } from 'node:child_process';
import { mkdtempSync, readdirSync, readFileSync, rmSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { build } from './build.mjs';

const WAITING = new Set(['test/integration/mqtt-keepalive.test.ts']);
// Files to run one at a time, after the rest, with only the waiting files beside them: for a file
// under suspicion of reading the machine's headroom rather than fleetsim's behaviour.
const ALONE = new Set((process.env.TESTS_ALONE ?? '').split(',').filter(Boolean));
const LANES = Number(process.env.TESTS_LANES ?? 4);
// test/helpers/cli.ts starts dist/src/cli/bin.js instead of the sources when this is 1.
const BUILT_ENV = 'TESTS_RUN_BUILT_CLI';

function testFiles(dir) {
  return readdirSync(dir)
    .flatMap((name) => {
      const file = path.posix.join(dir, name);
      if (statSync(file).isDirectory()) return testFiles(file);
      return name.endsWith('.test.ts') ? [file] : [];
    })
    .sort();
}

// The longest files start first, so that no lane is left with one long file at the end.
const LONGEST_FIRST = [
  'test/integration/delivered-load.test.ts',
  'test/integration/capacity-http.test.ts',
  'test/integration/http-fleet.test.ts',
  'test/integration/mqtt-mosquitto.test.ts',
  'test/integration/mqtt-embedded.test.ts',
  'test/integration/mqtt-delivery.test.ts',
  'test/integration/workers.test.ts',
  'test/integration/coordinator-live.test.ts',
  'test/integration/signal-moments.test.ts',
];
const rank = (file) => (LONGEST_FIRST.includes(file) ? LONGEST_FIRST.indexOf(file) : LONGEST_FIRST.length);

const only = process.argv.slice(2);
const files = only.length > 0 ? only : testFiles('test');
const waiting = files.filter((file) => WAITING.has(file));
const alone = files.filter((file) => ALONE.has(file) && !WAITING.has(file));
const rest = files.filter((file) => !WAITING.has(file) && !ALONE.has(file)).sort((a, b) => rank(a) - rank(b));

const built = build();
if (built !== 0) {
  console.log(`tests: not run: the build (scripts/build.mjs) failed with exit ${built}`);
  process.exit(built);
}

const work = mkdtempSync(path.join(tmpdir(), 'fleetsim-tests-'));
// The reporter a plain `node --test` would pick (spec on a terminal, TAP otherwise), plus the totals.
const shown = process.stdout.isTTY ? 'spec' : 'tap';
const totalsReporter = new URL('./test-totals-reporter.mjs', import.meta.url).href;
const args = (list, lanes) => [
  '--import',
  'tsx',
  '--test',
  '--test-force-exit',
  `--test-concurrency=${lanes}`,
  `--test-reporter=${shown}`,
  '--test-reporter-destination=stdout',
  `--test-reporter=${totalsReporter}`,
  '--test-reporter-destination=/dev/null',
  ...list,
];

function run(name, list, inherit, lanes = 1) {
  if (list.length === 0) return Promise.resolve({ list, code: 0, output: '', totals: {} });
  const totalsFile = path.join(work, `${name}.json`);
  const child = spawn(process.execPath, args(list, lanes), {
    stdio: inherit ? 'inherit' : ['ignore', 'pipe', 'pipe'],
    env: { ...process.env, [BUILT_ENV]: '1', TEST_TOTALS_FILE: totalsFile },
  });
  let output = '';
  child.stdout?.setEncoding('utf8').on('data', (chunk) => (output += chunk));
  child.stderr?.setEncoding('utf8').on('data', (chunk) => (output += chunk));
  return new Promise((resolve) =>
    child.on('close', (code, signal) => {
      let totals;
      try {
        totals = JSON.parse(readFileSync(totalsFile, 'utf8'));
      } catch {
        totals = undefined;
      }
      resolve({ list, code: code ?? (signal ? 1 : 0), output, totals });
    }),
  );
}

const started = Date.now();
const besideRun = run('beside', waiting, false);
const shared = await run('main', rest, true, LANES);
const sharedMs = Date.now() - started;
const solo = await run('alone', alone, true);
const side = await besideRun;
const groups = [shared, solo, side];
const aloneMs = Date.now() - started - sharedMs;
const wallTimes = `tests: ${(sharedMs / 1000).toFixed(0)} s for ${rest.length} files in ${LANES} lanes${alone.length > 0 ? `, then ${(aloneMs / 1000).toFixed(0)} s for ${alone.length} alone` : ''}`;
if (waiting.length > 0) process.stdout.write(`\n# ${waiting.join(', ')} (run beside the others)\n${side.output}`);
rmSync(work, { recursive: true, force: true });

const sum = (key) => groups.reduce((total, group) => total + (group.totals?.[key] ?? 0), 0);
const passed = sum('pass');
let failed = sum('fail') + sum('cancelled');
const notes = [];
if (sum('skipped') > 0) notes.push(`${sum('skipped')} skipped`);
if (sum('todo') > 0) notes.push(`${sum('todo')} todo`);
for (const group of groups) {
  if (group.list.length === 0) continue;
  const name = group.list.length === 1 ? group.list[0] : 'the main group';
  // A group that exited non-zero with no failing test (a crash, a runner error) counts as one failure.
  if (group.code === 0 || (group.totals?.fail ?? 0) + (group.totals?.cancelled ?? 0) > 0) continue;
  failed++;
  notes.push(group.totals === undefined ? `${name} exited ${group.code} without totals` : `${name} exited ${group.code} with no failing test`);
}
const code = groups.find((group) => group.code !== 0)?.code ?? (failed > 0 ? 1 : 0);
console.log('');
// Where the suite's time goes: the files whose tests took longest (their own time, not process start).
const fileTimes = groups.flatMap((group) => Object.entries(group.totals?.files ?? {}));
if (fileTimes.length > 1) {
  const slowest = fileTimes.sort((a, b) => b[1] - a[1]).slice(0, 10);
  console.log(`tests: slowest files: ${slowest.map(([file, ms]) => `${path.relative(process.cwd(), file)} ${(ms / 1000).toFixed(1)} s`).join(', ')}`);
}
console.log(wallTimes);
if (notes.length > 0) console.log(`tests: ${notes.join('; ')}`);
// The closing line CI reads.
console.log(`tests: ${passed} passed, ${failed} failed`);
process.exitCode = code;
