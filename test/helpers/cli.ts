import { spawn } from 'node:child_process';
import type { ChildProcess } from 'node:child_process';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

export const ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../..');

/**
 * Set by scripts/run-tests.mjs once it has built dist/: the CLI then starts from the compiled
 * JavaScript (about half a second less per spawn than compiling the sources through tsx). A test
 * file run on its own (`node --import tsx --test FILE`) runs the sources, so no build is needed.
 */
export const BUILT_ENV = 'TESTS_RUN_BUILT_CLI';

/** `node` arguments that start the CLI: the built entry when the runner built it, else the sources through tsx. */
export function cliEntry(): readonly string[] {
  return process.env[BUILT_ENV] === '1' ? [path.join(ROOT, 'dist/src/cli/bin.js')] : ['--import', 'tsx', path.join(ROOT, 'src/cli/bin.ts')];
}

export interface CliResult {
  readonly code: number | null;
  readonly signal: NodeJS.Signals | null;
  readonly stdout: string;
  readonly stderr: string;
}

export interface CliRun {
  readonly child: ChildProcess;
  readonly done: Promise<CliResult>;
  /** Resolves when stderr contains `text`, rejects at the deadline. */
  waitForStderr(text: string | RegExp, deadlineMs?: number): Promise<void>;
  /** What the child wrote to stderr so far. */
  stderrSoFar(): string;
}

/**
 * Starts the real CLI in a child process (its own event loop, as a user runs it), killed at the
 * deadline. `fileSizeLimitBlocks` caps every file it writes (`ulimit -f`, 512-byte blocks): writes
 * past it fail with EFBIG, as on a full disk.
 */
export function startCli(args: readonly string[], deadlineMs = 60_000, openFileLimit?: number, fileSizeLimitBlocks?: number, env?: NodeJS.ProcessEnv): CliRun {
  const command = [process.execPath, ...cliEntry(), ...args];
  // Lower limits are set by the shell that execs node, as a user's `ulimit -n` would.
  const limits = [openFileLimit === undefined ? '' : `ulimit -n ${openFileLimit} && `, fileSizeLimitBlocks === undefined ? '' : `ulimit -f ${fileSizeLimitBlocks} && `].join('');
  const [file, argv] = limits === '' ? [process.execPath, command.slice(1)] : ['/bin/sh', ['-c', `${limits}exec "$@"`, 'sh', ...command]];
  const child = spawn(file, argv, {
    cwd: ROOT,
    stdio: ['ignore', 'pipe', 'pipe'],
    env: { ...process.env, NO_COLOR: '1', ...env },
  });
  let stdout = '';
  let stderr = '';
  const stderrWaiters: (() => void)[] = [];
  child.stdout.setEncoding('utf8').on('data', (chunk: string) => (stdout += chunk));
  child.stderr.setEncoding('utf8').on('data', (chunk: string) => {
    stderr += chunk;
    for (const waiter of stderrWaiters) waiter();
  });
  const killer = setTimeout(() => child.kill('SIGKILL'), deadlineMs);
  const done = new Promise<CliResult>((resolve) => {
    child.on('close', (code, signal) => {
      clearTimeout(killer);
      resolve({ code, signal, stdout, stderr });
    });
  });
  const waitForStderr = (text: string | RegExp, waitMs = 30_000): Promise<void> =>
    new Promise((resolve, reject) => {
      const matches = (): boolean => (typeof text === 'string' ? stderr.includes(text) : text.test(stderr));
      if (matches()) return resolve();
      const timer = setTimeout(() => reject(new Error(`stderr never showed ${String(text)}; it has:\n${stderr}`)), waitMs);
      stderrWaiters.push(() => {
        if (matches()) {
          clearTimeout(timer);
          resolve();
        }
      });
    });
  return { child, done, waitForStderr, stderrSoFar: () => stderr };
}

export function runCli(args: readonly string[], deadlineMs?: number, openFileLimit?: number): Promise<CliResult> {
  return startCli(args, deadlineMs, openFileLimit).done;
}
