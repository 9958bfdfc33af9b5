import { spawn } from 'node:child_process';
import { once } from 'node:events';
import type { ChildProcess } from 'node:child_process';
import { accessSync, closeSync, constants, openSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { mkdtemp, rm } from 'node:fs/promises';
import { createServer } from 'node:net';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { setTimeout as delay } from 'node:timers/promises';
import { connectAsync } from 'mqtt';

export interface MosquittoBroker {
  readonly url: string;
  readonly port: number;
  /** `$SYS/broker/publish/messages/received`, fresh as of a $SYS tick after the call (takes up to ~2 s). */
  publishesReceived(): Promise<number>;
  kill(): Promise<void>;
  /** SIGSTOP: the broker reads and answers nothing until killed, so what clients send meanwhile stays in flight. */
  freeze(): void;
  /** Lets a frozen broker run again. */
  thaw(): void;
  /** Bytes clients sent that sit unread in the broker's socket receive queues (from /proc/net/tcp). */
  unreadBytes(): number;
  restart(): Promise<void>;
  /** When the persistence file was last written (ms since the epoch), 0 before the first save. */
  savedAt(): number;
  stop(): Promise<void>;
  log(): string;
}

export interface MosquittoOptions {
  nodelay?: boolean;
  /** A command the broker runs under, e.g. `['taskset', '-c', '1', 'nice', '-n', '19']` for a broker of known, small capacity. */
  wrap?: readonly string[];
  /** Sessions and messages saved to disk every second, and read back on restart (`persistence true`). */
  persistence?: boolean;
  /** `log_type all`: every packet in the log, e.g. `Received PUBLISH from <client> (d1, q1, r0, m3, '<topic>', ... (5 bytes))`. */
  logAll?: boolean;
  /** `max_inflight_messages`: QoS 1 and 2 messages in flight per client, and the Receive Maximum an MQTT 5 CONNACK announces (default 20). */
  maxInflight?: number;
  /** `max_queued_messages`: QoS 1 and 2 messages queued per client beyond those in flight; more are dropped (default 1000). */
  maxQueued?: number;
}

const SKIP_REASON = 'mosquitto not installed: real-broker tests SKIPPED (apt-get install mosquitto)';
const READY_DEADLINE_MS = 5_000;
const SYS_DEADLINE_MS = 5_000;
const BIND_ATTEMPTS = 5;
const RECEIVED_TOPIC = '$SYS/broker/publish/messages/received';
const SENT_TOPIC = '$SYS/broker/publish/messages/sent';

const message = (error: unknown): string => (error instanceof Error ? error.message : String(error));

function isExecutableFile(file: string): boolean {
  try {
    accessSync(file, constants.X_OK);
    return statSync(file).isFile();
  } catch {
    return false;
  }
}

export function mosquittoPath(): string | undefined {
  const dirs = (process.env.PATH ?? '').split(path.delimiter).filter((dir) => dir !== '');
  // Debian installs it in /usr/sbin, which an ordinary user's PATH often lacks.
  return [...dirs, '/usr/sbin', '/usr/local/sbin'].map((dir) => path.join(dir, 'mosquitto')).find(isExecutableFile);
}

let warnedMissing = false;

export function mosquittoSkip(): string | false {
  if (mosquittoPath() !== undefined) return false;
  // A silently skipped suite under CI would look green while testing nothing.
  if (process.env.CI === 'true') throw new Error(`${SKIP_REASON}; CI must run them`);
  if (!warnedMissing) {
    warnedMissing = true;
    process.stderr.write(`\n*** ${SKIP_REASON} ***\n\n`);
  }
  return SKIP_REASON;
}

interface Running {
  readonly child: ChildProcess;
  exited: Promise<void>;
  done: boolean;
  status: string;
}

const liveChildren = new Set<ChildProcess>();
const liveDirs = new Set<string>();
let exitHookInstalled = false;

function installExitHook(): void {
  if (exitHookInstalled) return;
  exitHookInstalled = true;
  const cleanup = (): void => {
    for (const child of liveChildren) child.kill('SIGKILL');
    for (const dir of liveDirs) rmSync(dir, { recursive: true, force: true });
  };
  process.on('exit', cleanup);
  // 'exit' does not fire when a signal ends the process (the test runner cancelling a file sends SIGTERM).
  for (const signal of ['SIGINT', 'SIGTERM', 'SIGHUP'] as const) {
    const onSignal = (): void => {
      cleanup();
      process.removeListener(signal, onSignal);
      if (process.listenerCount(signal) === 0) process.kill(process.pid, signal);
    };
    process.on(signal, onSignal);
  }
}

async function freePort(): Promise<number> {
  const server = createServer().listen(0, '127.0.0.1');
  await once(server, 'listening');
  const { port } = server.address() as AddressInfo;
  await new Promise((resolve) => server.close(resolve));
  return port;
}

function spawnBroker(bin: string, dir: string, wrap: readonly string[] = []): Running {
  // A file, not a pipe: nothing to drain, and a forgotten broker cannot hold the event loop open.
  const out = openSync(path.join(dir, 'stdio.log'), 'a');
  const command = [...wrap, bin, '-c', path.join(dir, 'mosquitto.conf')];
  const child = spawn(command[0] ?? bin, command.slice(1), { stdio: ['ignore', out, out] });
  closeSync(out);
  child.unref();
  liveChildren.add(child);
  const running: Running = { child, exited: Promise.resolve(), done: false, status: 'running' };
  running.exited = new Promise<void>((resolve) => {
    const settle = (status: string): void => {
      Object.assign(running, { done: true, status });
      liveChildren.delete(child);
      resolve();
    };
    child.once('error', (error) => settle(`failed to spawn: ${error.message}`));
    child.once('exit', (code, signal) => settle(`exited with ${signal ?? `code ${code}`}`));
  });
  return running;
}

function waitExit(running: Running): Promise<void> {
  // The child is unref'd; hold the loop while someone is actually waiting on it.
  running.child.ref();
  return running.exited.finally(() => running.child.unref());
}

async function waitReady(url: string, running: Running): Promise<void> {
  const deadline = Date.now() + READY_DEADLINE_MS;
  let lastError = 'no attempt';
  while (Date.now() < deadline && !running.done) {
    try {
      const client = await connectAsync(url, { reconnectPeriod: 0, connectTimeout: 1_000 }, false);
      await client.endAsync(true);
      // If mosquitto lost the port race, whoever won may be what answered.
      if (!running.done) return;
    } catch (error) {
      lastError = message(error);
    }
    await delay(25);
  }
  throw new Error(running.done ? `mosquitto ${running.status}` : `no MQTT connection to ${url} within ${READY_DEADLINE_MS} ms (${lastError})`);
}

function readLog(dir: string): string {
  const read = (name: string): string => {
    try {
      return readFileSync(path.join(dir, name), 'utf8');
    } catch {
      return '';
    }
  };
  // Config errors reach only stdout/stderr, before the log file is open; the root warning is noise.
  const early = read('stdio.log')
    .split('\n')
    .filter((line) => line !== '' && !line.includes('should not be run as root'));
  return read('mosquitto.log') + (early.length > 0 ? `--- stdout/stderr ---\n${early.join('\n')}\n` : '');
}

function tail(text: string, lines = 30): string {
  return text.trimEnd().split('\n').slice(-lines).join('\n');
}

async function readPublishesReceived(url: string): Promise<number> {
  const client = await connectAsync(url, { reconnectPeriod: 0, connectTimeout: 2_000 }, false);
  try {
    return await new Promise<number>((resolve, reject) => {
      const timer = setTimeout(() => reject(new Error(`no fresh ${RECEIVED_TOPIC} within ${SYS_DEADLINE_MS} ms`)), SYS_DEADLINE_MS);
      let received: number | undefined;
      // $SYS values are retained and only republished when they change, so the retained copy may
      // predate this call and no fresh copy may ever come. Each tick publishes `received` (if
      // changed) before `sent`, and `sent` is bound to change in the first tick after we subscribe
      // because the retained copies just delivered to us count as sent. So the first live `sent`
      // closes a tick that began after this call, and `received` as last seen is current as of it.
      client.on('message', (topic, payload, packet) => {
        if (topic === RECEIVED_TOPIC) {
          received = Number(payload.toString());
        } else if (topic === SENT_TOPIC && !packet.retain && received !== undefined) {
          clearTimeout(timer);
          resolve(received);
        }
      });
      client.subscribeAsync([RECEIVED_TOPIC, SENT_TOPIC], { qos: 0 }).catch((error: unknown) => {
        clearTimeout(timer);
        reject(error instanceof Error ? error : new Error(message(error)));
      });
    });
  } finally {
    await client.endAsync(true);
  }
}

function unreadBytes(port: number): number {
  const local = `:${port.toString(16).toUpperCase().padStart(4, '0')}`;
  let total = 0;
  for (const line of readFileSync('/proc/net/tcp', 'utf8').split('\n').slice(1)) {
    // sl local_address rem_address st tx_queue:rx_queue ...
    const [, localAddress, , , queues] = line.trim().split(/\s+/);
    if (!localAddress?.endsWith(local) || queues === undefined) continue;
    total += Number.parseInt(queues.split(':')[1] ?? '0', 16);
  }
  return total;
}

function writeConfig(dir: string, port: number, options: MosquittoOptions): void {
  const lines = [
    `listener ${port} 127.0.0.1`,
    'allow_anonymous true',
    `set_tcp_nodelay ${options.nodelay ?? true}`,
    'sys_interval 1',
    // A SIGKILLed broker keeps what it saved last. Mosquitto saves when more than autosave_interval whole
    // seconds have passed, so "1" means every two seconds: wait on savedAt(), not on a clock.
    ...(options.persistence === true ? ['persistence true', `persistence_location ${dir}/`, 'autosave_interval 1'] : ['persistence false']),
    'max_connections -1',
    ...(options.maxInflight === undefined ? [] : [`max_inflight_messages ${options.maxInflight}`]),
    ...(options.maxQueued === undefined ? [] : [`max_queued_messages ${options.maxQueued}`]),
    `log_dest file ${path.join(dir, 'mosquitto.log')}`,
    ...(options.logAll === true ? ['all'] : ['error', 'warning', 'notice', 'information']).map((type) => `log_type ${type}`),
    'connection_messages true',
  ];
  // As root, mosquitto drops to user "mosquitto", which cannot write the log into our 0700 temp dir.
  if (process.getuid?.() === 0) lines.push('user root');
  writeFileSync(path.join(dir, 'mosquitto.conf'), `${lines.join('\n')}\n`);
}

export async function startMosquitto(options: MosquittoOptions = {}): Promise<MosquittoBroker> {
  const bin = mosquittoPath();
  if (bin === undefined) throw new Error(SKIP_REASON);
  installExitHook();
  const dir = await mkdtemp(path.join(tmpdir(), 'fleetsim-mosquitto-'));
  liveDirs.add(dir);
  const removeDir = async (): Promise<void> => {
    liveDirs.delete(dir);
    await rm(dir, { recursive: true, force: true });
  };

  let current: Running | undefined;
  let port = 0;
  const failures: string[] = [];
  // The port is free when listen(0) hands it out but may be taken before mosquitto binds it.
  for (let attempt = 1; attempt <= BIND_ATTEMPTS && current === undefined; attempt++) {
    port = await freePort();
    writeConfig(dir, port, options);
    const candidate = spawnBroker(bin, dir, options.wrap);
    try {
      await waitReady(`mqtt://127.0.0.1:${port}`, candidate);
      current = candidate;
    } catch (error) {
      candidate.child.kill('SIGKILL');
      await waitExit(candidate);
      failures.push(`attempt ${attempt} on port ${port}: ${message(error)}`);
    }
  }
  if (current === undefined) {
    const log = tail(readLog(dir));
    await removeDir();
    throw new Error(`mosquitto failed to start:\n${failures.join('\n')}\n--- log tail ---\n${log}`);
  }

  const url = `mqtt://127.0.0.1:${port}`;
  let running: Running = current;
  let finalLog: string | undefined;
  let stopping: Promise<void> | undefined;
  const kill = async (): Promise<void> => {
    if (running.done) return;
    running.child.kill('SIGKILL');
    await waitExit(running);
  };
  return {
    url,
    port,
    publishesReceived: () => readPublishesReceived(url),
    kill,
    freeze(): void {
      if (!running.done) running.child.kill('SIGSTOP');
    },
    thaw(): void {
      if (!running.done) running.child.kill('SIGCONT');
    },
    unreadBytes: () => unreadBytes(port),
    savedAt(): number {
      try {
        return statSync(path.join(dir, 'mosquitto.db')).mtimeMs;
      } catch {
        return 0;
      }
    },
    async restart(): Promise<void> {
      if (stopping !== undefined) throw new Error('mosquitto was stopped; start a new one');
      await kill();
      running = spawnBroker(bin, dir, options.wrap);
      try {
        await waitReady(url, running);
      } catch (error) {
        await kill();
        throw new Error(`mosquitto failed to restart on port ${port}: ${message(error)}\n--- log tail ---\n${tail(readLog(dir))}`, { cause: error });
      }
    },
    stop(): Promise<void> {
      stopping ??= (async () => {
        if (!running.done) {
          running.child.kill('SIGTERM');
          const timer = setTimeout(() => running.child.kill('SIGKILL'), 3_000);
          await waitExit(running);
          clearTimeout(timer);
        }
        finalLog = readLog(dir);
        await removeDir();
      })();
      return stopping;
    },
    log: () => finalLog ?? readLog(dir),
  };
}
