import { fork } from 'node:child_process';
import type { ChildProcess } from 'node:child_process';
import { EventEmitter } from 'node:events';

/** What a worker reports each interval over IPC: enough for the parent's one live line. */
export interface WorkerInterval {
  readonly kind: 'interval';
  readonly atS: number;
  readonly intervalS: number;
  readonly devicesOnline: number;
  readonly devicesTarget: number;
  readonly rps: number;
  readonly failuresPerS: number;
  readonly p50: number | null;
  readonly p95: number | null;
  readonly p99: number | null;
}

export interface WorkerEnd {
  readonly index: number;
  readonly code: number | null;
  readonly signal: NodeJS.Signals | null;
}

export interface WorkerPoolEvents {
  started: [index: number, pid: number];
  interval: [index: number, interval: WorkerInterval];
  exit: [end: WorkerEnd];
  /** A line a worker wrote to its stderr (its warnings and errors). */
  stderr: [index: number, line: string];
}

/**
 * Tells a worker process it reports to a parent (run-command sends its intervals then). Not
 * starting with FLEETSIM: every such variable is read as a flag.
 */
export const WORKER_ENV = 'WORKER_OF_A_FLEETSIM_RUN';

export function isWorkerInterval(message: unknown): message is WorkerInterval {
  return typeof message === 'object' && message !== null && (message as { kind?: unknown }).kind === 'interval';
}

/**
 * N child processes, each running one shard of the run through the CLI (`argsFor(i)`), with an IPC
 * channel for their live numbers. It never prints: it emits `started`, `interval` and `exit`, and
 * `done` resolves once every worker has exited, however it ended.
 */
export class WorkerPool extends EventEmitter<WorkerPoolEvents> {
  private readonly children: ChildProcess[] = [];

  constructor(
    private readonly entry: URL,
    private readonly execArgv: readonly string[],
  ) {
    super();
  }

  start(count: number, argsFor: (index: number) => readonly string[]): Promise<WorkerEnd[]> {
    const ends: Promise<WorkerEnd>[] = [];
    for (let index = 0; index < count; index++) {
      const child = fork(this.entry, [...argsFor(index)], {
        execArgv: [...this.execArgv],
        env: { ...process.env, [WORKER_ENV]: '1' },
        stdio: ['ignore', 'ignore', 'pipe', 'ipc'],
      });
      this.children.push(child);
      // A worker's own messages (warnings, errors) reach the user prefixed, line by line.
      let pending = '';
      child.stderr?.setEncoding('utf8').on('data', (chunk: string) => {
        pending += chunk;
        const lines = pending.split('\n');
        pending = lines.pop() ?? '';
        for (const line of lines) if (line.trim() !== '') this.emit('stderr', index, line);
      });
      child.on('message', (message: unknown) => {
        if (isWorkerInterval(message)) this.emit('interval', index, message);
      });
      if (child.pid !== undefined) this.emit('started', index, child.pid);
      ends.push(
        new Promise<WorkerEnd>((resolve) => {
          child.on('error', () => resolve({ index, code: null, signal: null }));
          child.on('exit', (code, signal) => {
            const end = { index, code, signal };
            this.emit('exit', end);
            resolve(end);
          });
        }),
      );
    }
    return Promise.all(ends);
  }

  /** Passes an interrupt on: each worker drains and writes its results, as a run does on Ctrl-C. */
  signal(signal: NodeJS.Signals): void {
    for (const child of this.children) if (child.exitCode === null && child.signalCode === null) child.kill(signal);
  }
}
