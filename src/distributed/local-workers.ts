import { fork } from 'node:child_process';
import type { ChildProcess } from 'node:child_process';
import { EventEmitter } from 'node:events';

/** How a local worker process ended. */
export interface LocalWorkerEnd {
  readonly pid: number | undefined;
  readonly code: number | null;
  readonly signal: NodeJS.Signals | null;
}

export interface LocalWorkersEvents {
  /** A line a worker wrote to its stderr (its warnings and errors). */
  stderr: [pid: number | undefined, line: string];
  exit: [end: LocalWorkerEnd];
}

/** The variable a worker reads its token from (as `--token`): never on a command line, where `ps` shows it. */
const TOKEN_VARIABLE = 'FLEETSIM_TOKEN';

/**
 * N `fleetsim worker` processes on this machine, each joining the coordinator at `url`. The
 * coordinator hands them their shards and plan, as it does remote workers; this only starts them,
 * passes their stderr on line by line, says how each ended, and ends the ones still running.
 * It never prints.
 */
export class LocalWorkers extends EventEmitter<LocalWorkersEvents> {
  private readonly children: ChildProcess[] = [];

  /** `entry` is the CLI's entry point; `execArgv` what Node needs to run it (a loader when run from sources). */
  constructor(
    private readonly entry: URL,
    private readonly execArgv: readonly string[],
  ) {
    super();
  }

  start(count: number, url: string, token: string): void {
    // The worker takes everything from the coordinator: the parent's FLEETSIM_* flags would be read as its own.
    const env = Object.fromEntries(Object.entries(process.env).filter(([name]) => !name.startsWith('FLEETSIM_')));
    for (let i = 0; i < count; i++) {
      const child = fork(this.entry, ['worker', '--join', url, '--quiet'], {
        execArgv: [...this.execArgv],
        env: { ...env, [TOKEN_VARIABLE]: token },
        stdio: ['ignore', 'ignore', 'pipe', 'ipc'],
      });
      this.children.push(child);
      let pending = '';
      child.stderr?.setEncoding('utf8').on('data', (chunk: string) => {
        pending += chunk;
        const lines = pending.split('\n');
        pending = lines.pop() ?? '';
        for (const line of lines) if (line.trim() !== '') this.emit('stderr', child.pid, line);
      });
      let ended = false;
      const end = (code: number | null, signal: NodeJS.Signals | null): void => {
        if (ended) return;
        ended = true;
        this.emit('exit', { pid: child.pid, code, signal });
      };
      child.on('error', () => end(null, null));
      child.on('exit', end);
    }
  }

  /** Resolves once every worker has exited, or after `waitMs`; the ones still running are then killed. */
  async end(waitMs: number): Promise<void> {
    let timer: NodeJS.Timeout | undefined;
    await Promise.race([Promise.all(this.children.map(exited)), new Promise((resolve) => (timer = setTimeout(resolve, waitMs)))]);
    clearTimeout(timer);
    for (const child of this.children) if (running(child)) child.kill('SIGKILL');
  }
}

/** What became of a worker process, in words: "was killed by SIGKILL", "exited with code 2". */
export function describeLocalEnd(end: LocalWorkerEnd): string {
  if (end.signal) return `was killed by ${end.signal}`;
  return end.code === null ? 'could not start' : `exited with code ${end.code}`;
}

const running = (child: ChildProcess): boolean => child.exitCode === null && child.signalCode === null;

function exited(child: ChildProcess): Promise<void> {
  if (!running(child)) return Promise.resolve();
  return new Promise((resolve) => child.once('exit', () => resolve()));
}
