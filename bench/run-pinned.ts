import { spawn } from 'node:child_process';
import { existsSync } from 'node:fs';
import { createServer } from 'node:net';
import type { AddressInfo } from 'node:net';
import os from 'node:os';

/** The generator runs on core 0 and the target on core 1, when the machine has both and taskset. */
export const pinning = existsSync('/usr/bin/taskset') && os.cpus().length >= 2;

export function pinned(core: 0 | 1, command: string, args: readonly string[]): [string, string[]] {
  return pinning ? ['taskset', ['-c', String(core), command, ...args]] : [command, [...args]];
}

/** Runs a command to completion and returns its stdout; fails with its stderr. */
export function run(core: 0 | 1, command: string, args: readonly string[]): Promise<string> {
  const [file, argv] = pinned(core, command, args);
  return new Promise((resolve, reject) => {
    const child = spawn(file, argv, { stdio: ['ignore', 'pipe', 'pipe'] });
    let stdout = '';
    let stderr = '';
    child.stdout.setEncoding('utf8').on('data', (chunk: string) => (stdout += chunk));
    child.stderr.setEncoding('utf8').on('data', (chunk: string) => (stderr += chunk));
    child.on('close', (code) => (code === 0 ? resolve(stdout) : reject(new Error(`${command} ${args.join(' ')} exited ${code}: ${stderr.slice(-2000)}`))));
  });
}

export async function freePort(): Promise<number> {
  const server = createServer();
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;
  await new Promise((resolve) => server.close(resolve));
  return port;
}

export interface Measured {
  readonly tool: string;
  readonly messages: number;
  readonly seconds: number;
  readonly cpuSeconds: number;
  readonly maxRssBytes: number;
}

/** One row per tool: rate, the ratio of fleetsim's rate to it, CPU seconds per 1k messages, RSS. */
export function table(rows: readonly Measured[], unit: string): string {
  const fleetsim = rows.find((row) => row.tool.startsWith('fleetsim'));
  const rate = (row: Measured): number => row.messages / row.seconds;
  const lines = [['tool', `${unit}/s`, 'fleetsim ÷ tool', `CPU s per 1k ${unit}`, 'max RSS MB']];
  for (const row of rows) {
    lines.push([
      row.tool,
      rate(row).toFixed(0),
      fleetsim ? (rate(fleetsim) / rate(row)).toFixed(2) : '-',
      ((row.cpuSeconds / row.messages) * 1000).toFixed(4),
      (row.maxRssBytes / 1048576).toFixed(0),
    ]);
  }
  const widths = (lines[0] ?? []).map((_, i) => Math.max(...lines.map((line) => (line[i] ?? '').length)));
  return lines.map((line) => line.map((cell, i) => (i === 0 ? cell.padEnd(widths[i] ?? 0) : cell.padStart(widths[i] ?? 0))).join('  ')).join('\n');
}
