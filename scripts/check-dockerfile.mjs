// Builds deploy/Dockerfile's filesystem without Docker: each stage in its own folder (standing for
// /app), its COPY, WORKDIR, ENV and RUN steps carried out in order from a clean start, then the
// final stage's ENTRYPOINT runs a short fleet with no failures. CI runs it (no Docker there).
import { execFileSync } from 'node:child_process';
import { cpSync, mkdirSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';

const root = path.resolve(path.dirname(new URL(import.meta.url).pathname), '..');
const work = mkdtempSync(path.join(tmpdir(), 'fleetsim-image-'));
const lines = readFileSync(path.join(root, 'deploy/Dockerfile'), 'utf8')
  .split('\n')
  .map((line) => line.trim())
  .filter((line) => line && !line.startsWith('#'));
const stages = new Map();
let stage;
try {
  for (const line of lines) {
    const [instruction, ...rest] = line.split(/\s+/);
    const args = rest.join(' ');
    if (instruction === 'FROM') {
      const name = /\bAS\s+(\S+)/i.exec(args)?.[1] ?? `stage${stages.size}`;
      stage = { dir: path.join(work, name), cwd: '/', env: {} };
      mkdirSync(stage.dir);
      stages.set(name, stage);
    } else if (instruction === 'WORKDIR') {
      stage.cwd = args;
    } else if (instruction === 'ENV') {
      const [key, value] = args.split('=');
      stage.env[key] = value;
    } else if (instruction === 'COPY') {
      const from = /--from=(\S+)/.exec(args)?.[1];
      const parts = args.replace(/--from=\S+\s*/, '').split(/\s+/);
      const dest = parts.pop();
      const base = from ? stages.get(from).dir : root;
      const inStage = (p) => path.join(stage.dir, path.posix.resolve(stage.cwd, p).replace(/^\/app/, ''));
      for (const source of parts) {
        const target = dest.endsWith('/') ? path.join(inStage(dest), path.basename(source)) : inStage(dest);
        cpSync(path.join(base, from ? source.replace(/^\/app/, '') : source), target, { recursive: true });
      }
    } else if (instruction === 'RUN') {
      console.log(`check-dockerfile: RUN ${args}`);
      execFileSync('/bin/sh', ['-c', args], { cwd: path.join(stage.dir, stage.cwd.replace(/^\/app/, '')), stdio: ['ignore', 'ignore', 'inherit'], env: { ...process.env, ...stage.env } });
    } else if (instruction === 'ENTRYPOINT') {
      stage.entrypoint = JSON.parse(args).map((part) => part.replace(/^\/app/, stage.dir));
    }
  }
  const results = path.join(work, 'results.json');
  const [command, ...entryArgs] = stage.entrypoint;
  execFileSync(command, [...entryArgs, 'run', path.join(stage.dir, 'profiles/iot-node.yaml'), '-u', '10', '-t', '3s', '--quiet', '--json', results], {
    stdio: ['ignore', 'ignore', 'inherit'],
    env: { ...process.env, ...stage.env },
  });
  const total = JSON.parse(readFileSync(results, 'utf8')).total;
  if (total.requests === 0 || total.failures !== 0) throw new Error(`check-dockerfile: the image's fleetsim ran ${total.requests} requests, ${total.failures} failures`);
  console.log(`check-dockerfile: ok: the image's filesystem runs fleetsim (${total.requests} requests, 0 failures)`);
} finally {
  rmSync(work, { recursive: true, force: true });
}
