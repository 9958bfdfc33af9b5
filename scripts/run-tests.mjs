#!/usr/bin/env node
// Runs every test file one at a time, except the files that only wait on a clock (an idle MQTT
// session watched for a minute), which run beside them: they need seconds of wall time, not CPU.
// Their output is held and printed after the rest, so each stream reads in order.
import { spawn } from 'node:child_process';
import { readdirSync, statSync } from 'node:fs';
import path from 'node:path';

const WAITING = new Set(['test/integration/mqtt-keepalive.test.ts']);

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
const args = (list) => ['--import', 'tsx', '--test', '--test-force-exit', '--test-concurrency=1', ...list];

function run(list, inherit) {
  if (list.length === 0) return Promise.resolve({ code: 0, output: '' });
  const child = spawn(process.execPath, args(list), { stdio: inherit ? 'inherit' : ['ignore', 'pipe', 'pipe'] });
  let output = '';
  child.stdout?.setEncoding('utf8').on('data', (chunk) => (output += chunk));
  child.stderr?.setEncoding('utf8').on('data', (chunk) => (output += chunk));
  return new Promise((resolve) => child.on('close', (code, signal) => resolve({ code: code ?? (signal ? 1 : 0), output })));
}

const [side, main] = await Promise.all([run(waiting, false), run(rest, true)]);
if (waiting.length > 0) process.stdout.write(`\n# ${waiting.join(', ')} (run beside the others)\n${side.output}`);
process.exitCode = side.code !== 0 ? side.code : main.code;
