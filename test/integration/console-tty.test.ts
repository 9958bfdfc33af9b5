import { test } from 'node:test';
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { existsSync } from 'node:fs';
import { promisify } from 'node:util';
import { ROOT, cliEntry, runCli } from '../helpers/cli.ts';

const run = promisify(execFile);
const SCRIPT = '/usr/bin/script';
const ARGS = ['run', 'profiles/iot-node.yaml', '-u', '5', '-r', '50', '-t', '5s'];

test(
  'on a terminal the progress line is redrawn in place; the summary starts on a line of its own',
  { timeout: 60_000, skip: existsSync(SCRIPT) ? false : 'no script(1) to give the CLI a terminal' },
  async () => {
    const cli = [process.execPath, ...cliEntry(), ...ARGS].map((part) => `'${part}'`).join(' ');
    // script(1) runs the CLI on a pseudo-terminal and copies what the terminal got to stdout.
    const { stdout } = await run(SCRIPT, ['-qefc', cli, '/dev/null'], { cwd: ROOT, env: { ...process.env, NO_COLOR: '1' }, timeout: 50_000 });
    const redraws = stdout.split('\r\x1b[2K').length - 1;
    assert.ok(redraws >= 2, `expected the progress line redrawn in place, got ${redraws} redraws:\n${JSON.stringify(stdout.slice(0, 600))}`);
    assert.ok(stdout.includes('\r\x1b[2K[2s/5s] devices 5/5 '), JSON.stringify(stdout.slice(0, 600)));
    // The last progress line is ended before the summary's table begins.
    assert.match(stdout, /\[\d+s\/5s\][^\r\n]*\r?\n(?:[^\r\n]*\r?\n)*?Type\s+Name\s+# reqs/);
  },
);

test('piped, every progress line is a plain line of its own', { timeout: 60_000 }, async () => {
  const result = await runCli(ARGS, 50_000);
  assert.equal(result.code, 0, result.stderr);
  assert.ok(!result.stderr.includes('\x1b['), 'no terminal escapes when piped');
  const lines = result.stderr.split('\n').filter((line) => /^\[\d+s\/5s\] devices/.test(line));
  assert.ok(lines.length >= 2, result.stderr);
  for (const line of lines) assert.match(line, /^\[\d+s\/5s\] devices \d+\/5 {2}[\d.]+ req\/s {2}[\d.]+ fail\/s {2}p50\/p95\/p99 \S+ ms \(last [\d.]+s\)/);
});

test(
  'on an 80-column terminal every redraw of the progress line fits: no wrapped fragment is left behind',
  { timeout: 60_000, skip: existsSync(SCRIPT) ? false : 'no script(1) to give the CLI a terminal' },
  async () => {
    // A refused target gives the line every part it can have (failures, a top error), so it must shorten.
    const args = ['run', 'profiles/iot-node.yaml', '-u', '20', '-r', '50', '-t', '5s', '--target', 'http://127.0.0.1:9', '--min-delivered', 'off'];
    const cli = [process.execPath, ...cliEntry(), ...args].map((part) => `'${part}'`).join(' ');
    const { stdout } = await run(SCRIPT, ['-qefc', `stty cols 80 rows 24; ${cli}`, '/dev/null'], { cwd: ROOT, env: { ...process.env, NO_COLOR: '1' }, timeout: 50_000 }).catch(
      (error: { stdout?: string }) => ({ stdout: error.stdout ?? '' }),
    );
    const redraws = stdout
      .split('\r\x1b[2K')
      .slice(1)
      .map((segment) => segment.split(/\r?\n|\r/)[0] ?? '');
    assert.ok(redraws.length >= 2, `expected redraws in place:\n${JSON.stringify(stdout.slice(0, 600))}`);
    for (const line of redraws) assert.ok([...line].length < 80, `${[...line].length} columns: ${JSON.stringify(line)}`);
    assert.ok(
      redraws.some((line) => / req\/s /.test(line) && /\(last \d+s\)/.test(line)),
      JSON.stringify(redraws),
    );
  },
);
