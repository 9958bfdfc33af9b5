import { spawn } from 'node:child_process';
import type { ChildProcess } from 'node:child_process';
import path from 'node:path';
import { ROOT } from './cli.ts';

export interface ChildServer {
  readonly url: string;
  readonly child: ChildProcess;
  stop(): Promise<void>;
}

/** Starts a test server script in its own process and waits for the port it prints (deadline 15 s). */
export function startChildServer(script: string, env: Record<string, string> = {}, command: readonly string[] = []): Promise<ChildServer> {
  const node = [process.execPath, '--import', 'tsx', path.join(ROOT, script)];
  const [file, ...args] = [...command, ...node] as [string, ...string[]];
  const child = spawn(file, args, { cwd: ROOT, stdio: ['ignore', 'pipe', 'inherit'], env: { ...process.env, ...env } });
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => {
      child.kill('SIGKILL');
      reject(new Error(`${script} printed no port within 15 s`));
    }, 15_000);
    child.once('exit', (code) => reject(new Error(`${script} exited ${code} before listening`)));
    child.stdout.setEncoding('utf8').once('data', (chunk: string) => {
      clearTimeout(timer);
      const port = Number(chunk.trim());
      resolve({
        url: `http://127.0.0.1:${port}`,
        child,
        stop: () =>
          new Promise<void>((done) => {
            if (child.exitCode !== null) return done();
            child.once('exit', () => done());
            child.kill('SIGTERM');
          }),
      });
    });
  });
}
