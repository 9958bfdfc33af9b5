import { spawn } from 'node:child_process';
import type { ChildProcess } from 'node:child_process';
import { existsSync, openSync } from 'node:fs';
import { mkdir, writeFile } from 'node:fs/promises';
import { connect } from 'node:net';
import path from 'node:path';
import { procCpuMicros } from '../src/metrics/generator-monitor.ts';
import { compiledCli, freePort, pinned } from './run-pinned.ts';

/** A target process the benchmark started on core 1, and how to reach it. */
export interface Target {
  readonly url: string;
  /** CPU seconds the target has used so far: read around a tool's run, it says who was the bottleneck. */
  cpuSeconds(): number;
  stop(): void;
}

function target(url: string, child: ChildProcess, signal: NodeJS.Signals): Target {
  return { url, cpuSeconds: () => (child.pid === undefined ? 0 : (procCpuMicros(`/proc/${child.pid}/stat`) ?? 0) / 1e6), stop: () => child.kill(signal) };
}

async function listening(port: number, what: string, child: ChildProcess): Promise<void> {
  const deadline = Date.now() + 20_000;
  const exit: { code: number | null } = { code: null };
  child.once('exit', (code) => (exit.code = code ?? -1));
  for (;;) {
    const ok = await new Promise<boolean>((resolve) => {
      const socket = connect(port, '127.0.0.1', () => {
        socket.destroy();
        resolve(true);
      }).on('error', () => resolve(false));
    });
    if (ok) return;
    if (exit.code !== null) throw new Error(`${what} exited with ${exit.code} before it listened`);
    if (Date.now() > deadline) throw new Error(`${what} did not listen on ${port} within 20 s`);
    await new Promise((resolve) => setTimeout(resolve, 50));
  }
}

/** How a benchmark's Mosquitto is set up beyond the defaults. */
export interface MosquittoOptions {
  /** A TLS listener with this certificate and key (mqtts://) instead of plain TCP. */
  readonly tls?: { readonly ca: string; readonly cert: string; readonly key: string };
  /** Its `max_connections` (unlimited by default, which the process's file limit then caps). */
  readonly maxConnections?: number;
  /** Its own file limit (`prlimit --nofile`), at most the hard limit this process has. */
  readonly fileLimit?: number;
  /** A name for its config file, when a benchmark starts several. */
  readonly name?: string;
  /** Where its stdout and stderr go (its log of connects and drops); ignored by default. */
  readonly logFile?: string;
}

/** Mosquitto with Nagle off (see the README's Nagle note) and no per-client queue limits. */
export async function startMosquitto(dir: string, options: MosquittoOptions = {}): Promise<Target> {
  const port = await freePort();
  const config = path.join(dir, `${options.name ?? 'mosquitto'}.conf`);
  const tls = options.tls ? `cafile ${options.tls.ca}\ncertfile ${options.tls.cert}\nkeyfile ${options.tls.key}\n` : '';
  const limit = options.maxConnections === undefined ? '' : `max_connections ${options.maxConnections}\n`;
  await writeFile(
    config,
    `listener ${port} 127.0.0.1\n${tls}${limit}allow_anonymous true\nset_tcp_nodelay true\npersistence false\nmax_inflight_messages 0\nmax_queued_messages 0\n${process.getuid?.() === 0 ? 'user root\n' : ''}`,
  );
  const command: [string, string[]] = options.fileLimit === undefined ? ['mosquitto', ['-c', config]] : ['prlimit', [`--nofile=${options.fileLimit}:${options.fileLimit}`, 'mosquitto', '-c', config]];
  const [file, argv] = pinned(1, command[0], command[1]);
  const log = options.logFile === undefined ? 'ignore' : openSync(options.logFile, 'a');
  const child = spawn(file, argv, { stdio: ['ignore', log, log] }).on('error', () => undefined);
  await listening(port, 'mosquitto (apt-get install mosquitto)', child);
  return target(`${options.tls ? 'mqtts' : 'mqtt'}://127.0.0.1:${port}`, child, 'SIGTERM');
}

/**
 * A WebSocket-to-TCP gateway (bench/peers/ws-gateway.ts) in front of a broker, on the broker's core:
 * the ws:// row goes through it, so that row's rate includes the gateway's cost as a real load balancer's would.
 */
export async function startWsGateway(broker: Target): Promise<Target> {
  const port = await freePort();
  const [file, argv] = pinned(1, process.execPath, ['--import', 'tsx', 'bench/peers/ws-gateway.ts', String(port), new URL(broker.url).port]);
  const child = spawn(file, argv, { stdio: 'ignore' });
  await listening(port, 'the WebSocket gateway', child);
  return target(`ws://127.0.0.1:${port}/mqtt`, child, 'SIGTERM');
}

/** fleetsim's own HTTP fixture as a standalone process (its MQTT listener off). */
export async function startFixture(): Promise<Target> {
  const port = await freePort();
  const [file, argv] = pinned(1, process.execPath, [await compiledCli(), 'fixture', '--http-port', String(port), '--mqtt-port', '0']);
  const child = spawn(file, argv, { stdio: 'ignore' });
  await listening(port, 'the HTTP fixture', child);
  return target(`http://127.0.0.1:${port}`, child, 'SIGINT');
}

export const nginxInstalled = existsSync('/usr/sbin/nginx');

/**
 * nginx with one worker answering the iot-node routes from memory: a target far cheaper per
 * request than any generator, so what the run reports is the generator's own limit.
 */
export async function startNginx(dir: string): Promise<Target> {
  const port = await freePort();
  const prefix = path.join(dir, 'nginx');
  await mkdir(path.join(prefix, 'logs'), { recursive: true });
  const answer = (route: string, body: string): string => `    location = ${route} { default_type application/json; return 200 '${body}'; }\n`;
  await writeFile(
    path.join(prefix, 'nginx.conf'),
    `daemon off;\nmaster_process off;\nworker_processes 1;\nworker_rlimit_nofile 20000;\npid ${prefix}/nginx.pid;\nerror_log ${prefix}/logs/error.log warn;\n` +
      `events { worker_connections 16000; }\n` +
      `http {\n  access_log off;\n  keepalive_requests 10000000;\n  keepalive_timeout 120s;\n  client_body_temp_path ${prefix}/body;\n` +
      `  server {\n    listen 127.0.0.1:${port} backlog=4096;\n` +
      answer('/greet', '{"ok":true}') +
      answer('/data', '{"ok":true}') +
      answer('/health', '{"ok":true}') +
      answer('/ota', '{"update":false}') +
      `    location / { return 404; }\n  }\n}\n`,
  );
  const [file, argv] = pinned(1, '/usr/sbin/nginx', ['-p', prefix, '-c', path.join(prefix, 'nginx.conf')]);
  const child = spawn(file, argv, { stdio: 'ignore' });
  await listening(port, 'nginx', child);
  return target(`http://127.0.0.1:${port}`, child, 'SIGQUIT');
}
