#!/usr/bin/env node
// Builds dist/ once, then runs every test file one at a time against the built CLI (a spawn from
// dist/ starts in about half the time of one through tsx), except the files that only wait on a
// clock (an idle MQTT session watched for a minute), which run beside them: they need seconds of
// wall time, not CPU. Their output is held and printed after the rest, so each stream reads in
// order. The last line is the verdict for both groups: `tests: N passed, N failed`.
import { spawn } from 'node:child_process';
import { mkdtempSync, readdirSync, readFileSync, rmSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { build } from './build.mjs';

const WAITING = new Set(['test/integration/mqtt-keepalive.test.ts']);
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

const only = process.argv.slice(2);
const files = only.length > 0 ? only : testFiles('test');
const waiting = files.filter((file) => WAITING.has(file));
const rest = files.filter((file) => !WAITING.has(file));

const built = build();
if (built !== 0) {
  console.log(`tests: not run: the build (scripts/build.mjs) failed with exit ${built}`);
  process.exit(built);
}

const work = mkdtempSync(path.join(tmpdir(), 'fleetsim-tests-'));
// The reporter a plain `node --test` would pick (spec on a terminal, TAP otherwise), plus the totals.
const shown = process.stdout.isTTY ? 'spec' : 'tap';
const totalsReporter = new URL('./test-totals-reporter.mjs', import.meta.url).href;
const args = (list) => [
  '--import',
  'tsx',
  '--test',
  '--test-force-exit',
  '--test-concurrency=1',
  `--test-reporter=${shown}`,
  '--test-reporter-destination=stdout',
  `--test-reporter=${totalsReporter}`,
  '--test-reporter-destination=/dev/null',
  ...list,
];

function run(name, list, inherit) {
  if (list.length === 0) return Promise.resolve({ list, code: 0, output: '', totals: {} });
  const totalsFile = path.join(work, `${name}.json`);
  const child = spawn(process.execPath, args(list), {
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

const groups = await Promise.all([run('main', rest, true), run('beside', waiting, false)]);
const [, side] = groups;
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
if (notes.length > 0) console.log(`tests: ${notes.join('; ')}`);
// The closing line CI reads.
console.log(`tests: ${passed} passed, ${failed} failed`);
process.exitCode = code;
