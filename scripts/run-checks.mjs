#!/usr/bin/env node
// Runs the type check and the lint side by side (each takes most of a core for a minute on its own)
// and prints each one's output whole once it ends; exits non-zero when either failed.
import { spawn } from 'node:child_process';

const npm = process.platform === 'win32' ? 'npm.cmd' : 'npm';
const checks = ['typecheck', 'lint'].map(
  (script) =>
    new Promise((resolve) => {
      const child = spawn(npm, ['run', '-s', script], { stdio: ['ignore', 'pipe', 'pipe'] });
      let output = '';
      child.stdout.setEncoding('utf8').on('data', (chunk) => (output += chunk));
      child.stderr.setEncoding('utf8').on('data', (chunk) => (output += chunk));
      child.on('close', (code, signal) => resolve({ script, code: code ?? (signal ? 1 : 0), output }));
    }),
);
let failed = 0;
for (const { script, code, output } of await Promise.all(checks)) {
  process.stdout.write(`> ${script}: ${code === 0 ? 'ok' : `failed (exit ${code})`}\n${output}`);
  if (code !== 0) failed++;
}
process.exitCode = failed > 0 ? 1 : 0;
