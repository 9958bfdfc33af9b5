import { createWriteStream } from 'node:fs';
import { createServer } from 'node:http';
import type { IncomingMessage, Server, ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { EventEmitter } from 'node:events';
import path from 'node:path';
import { pipeline } from 'node:stream/promises';
import { timingSafeEqual } from 'node:crypto';
import type { HistoryPoint } from '../metrics/history.ts';
import type { Results } from '../metrics/results.ts';
import type { IntervalMessage, JoinReply, RampOrder, ReadyReply, ResultsMessage, StopReason, StopReply, WorkerFlags } from './protocol.ts';

/** Where a worker is in the run. */
export type WorkerState = 'joined' | 'ready' | 'running' | 'finished' | 'lost';

export interface WorkerRecord {
  readonly index: number;
  state: WorkerState;
  /** Epoch ms of its last message: a worker silent for `lostAfterMs` is lost. */
  lastSeenMs: number;
  runStartedAtMs: number | undefined;
  /** Its history as it streamed it; a lost worker's data up to its end. */
  readonly points: HistoryPoint[];
  results: Results | undefined;
  /** Its request log, received at its end. */
  logFile: string | undefined;
  from: string;
  /** Its process id, as it said when joining: how the coordinator's own local workers are told apart. */
  readonly pid: number | undefined;
  /** Where its device count is heading, as its latest interval said. */
  devicesGoal: number | undefined;
  /** A change of its device count not yet sent: it goes out in the next reply to it. */
  order: RampOrder | undefined;
}

export interface CoordinatorOptions {
  readonly count: number;
  readonly token: string;
  readonly profile: JoinReply['profile'];
  readonly flags: WorkerFlags;
  /** A directory for the workers' request logs, when the run writes one. */
  readonly logDir: string | undefined;
  /** A worker silent this long is lost. */
  readonly lostAfterMs: number;
  /** Between the barrier opening and the common start: long enough for every reply to arrive. */
  readonly startDelayMs?: number;
  /** `--start-at`: the barrier opens no earlier than this (epoch ms). */
  readonly notBeforeMs?: number;
}

export interface CoordinatorEvents {
  joined: [worker: WorkerRecord];
  /** Every worker is ready: the run starts at `startAtMs`. */
  barrier: [startAtMs: number];
  interval: [worker: WorkerRecord, point: HistoryPoint];
  finished: [worker: WorkerRecord];
  lost: [worker: WorkerRecord, why: string];
  /** A worker ended (lost, or its results came) before the barrier opened: the fleet cannot start whole, and the others are told to stop. */
  unstartable: [worker: WorkerRecord];
  /** Every worker has finished or been lost. */
  done: [];
}

const MAX_BODY_BYTES = 64 * 1024 * 1024;

/**
 * A coordinated run's hub: hands out shard indices and the plan, holds the start barrier (every
 * worker has warmed up, pre-connected and opened its probes before it says ready), takes each
 * worker's intervals as they close and its results at its end, and notices a worker that went
 * silent. It never prints: it emits, and the command says what happened.
 */
export class Coordinator extends EventEmitter<CoordinatorEvents> {
  readonly workers: WorkerRecord[] = [];
  private readonly waiting: ((reply: ReadyReply) => void)[] = [];
  private server: Server | undefined;
  private watchdog: NodeJS.Timeout | undefined;
  private startAtMs: number | undefined;
  private ended = false;
  private stopReason: StopReason | undefined;
  /** The merged results once written, for GET /results.json. */
  download: string | undefined;

  constructor(private readonly options: CoordinatorOptions) {
    super();
  }

  get startedAtMs(): number | undefined {
    return this.startAtMs;
  }

  /** Listens on `host:port` (0 picks a free port); resolves with the URL workers join. */
  async listen(host: string, port: number): Promise<string> {
    const server = createServer((request, response) => {
      this.handle(request, response).catch((error: unknown) => reply(response, 400, { error: error instanceof Error ? error.message : String(error) }));
    });
    this.server = server;
    await new Promise<void>((resolve, reject) => {
      server.once('error', reject);
      server.listen(port, host, () => resolve());
    });
    this.watchdog = setInterval(() => this.checkSilence(), 250);
    const address = server.address() as AddressInfo;
    const shown = address.family === 'IPv6' ? `[${address.address}]` : address.address;
    return `http://${shown}:${address.port}`;
  }

  async close(): Promise<void> {
    clearInterval(this.watchdog);
    for (const resolve of this.waiting.splice(0)) resolve({ startAtMs: -1 });
    const server = this.server;
    if (!server) return;
    server.closeAllConnections();
    await new Promise<void>((resolve) => server.close(() => resolve()));
  }

  /** Marks a worker lost (its process exited, or it went silent). */
  lose(index: number, why: string): void {
    const worker = this.workers[index];
    if (!worker || worker.state === 'finished' || worker.state === 'lost') return;
    worker.state = 'lost';
    this.emit('lost', worker, why);
    this.checkStartable(worker);
    this.checkDone();
  }

  /**
   * Tells every worker to stop (in its next heartbeat reply, or at the barrier): each drains and
   * sends its results, and the run is done when every worker that joined has. Workers not yet
   * joined are turned away.
   */
  stop(reason: StopReason): void {
    if (this.stopReason !== undefined) return;
    this.stopReason = reason;
    for (const resolve of this.waiting.splice(0)) resolve({ startAtMs: -1, stop: reason });
    this.checkDone();
  }

  /**
   * Tells a worker of the started run to move its device count, in the reply to its next heartbeat
   * or interval once it runs (its first interval came); a later order replaces one not yet sent.
   * False when the run has not started, or the worker has ended.
   */
  order(index: number, order: RampOrder): boolean {
    const worker = this.workers[index];
    if (!worker || this.stopReason !== undefined || this.startAtMs === undefined || worker.state === 'finished' || worker.state === 'lost') return false;
    worker.order = order;
    return true;
  }

  /** Stops waiting: every worker not finished is lost, and the run is done with what was sent. */
  abort(why: string): void {
    for (const worker of this.workers) this.lose(worker.index, why);
    if (!this.ended) {
      this.ended = true;
      this.emit('done');
    }
  }

  /** The barrier waits for every worker: one that ended before it opened would hold the others there for good. */
  private checkStartable(worker: WorkerRecord): void {
    if (this.startAtMs !== undefined || this.stopReason !== undefined || this.ended) return;
    this.emit('unstartable', worker);
    this.stop('interrupted');
  }

  private checkSilence(): void {
    const now = Date.now();
    for (const worker of this.workers) {
      if (worker.state !== 'finished' && worker.state !== 'lost' && now - worker.lastSeenMs > this.options.lostAfterMs) {
        this.lose(worker.index, `silent for ${Math.round((now - worker.lastSeenMs) / 100) / 10} s`);
      }
    }
  }

  private checkDone(): void {
    if (this.ended || (this.stopReason === undefined && this.workers.length < this.options.count)) return;
    if (this.workers.every((worker) => worker.state === 'finished' || worker.state === 'lost')) {
      this.ended = true;
      this.emit('done');
    }
  }

  private authorized(request: IncomingMessage): boolean {
    const given = Buffer.from(request.headers.authorization ?? '');
    const expected = Buffer.from(`Bearer ${this.options.token}`);
    return given.length === expected.length && timingSafeEqual(given, expected);
  }

  private async handle(request: IncomingMessage, response: ServerResponse): Promise<void> {
    const url = new URL(request.url ?? '/', 'http://coordinator');
    if (request.method === 'GET' && url.pathname === '/health') return reply(response, 200, { workers: this.workers.length, of: this.options.count });
    if (!this.authorized(request)) return reply(response, 401, { error: 'a wrong or missing token (Authorization: Bearer …)' });
    if (request.method === 'GET' && url.pathname === '/results.json') {
      if (this.download === undefined) return reply(response, 404, { error: 'the run has not finished' });
      response.writeHead(200, { 'content-type': 'application/json' }).end(this.download);
      return;
    }
    if (request.method !== 'POST') return reply(response, 404, { error: `no ${request.method} ${url.pathname}` });
    if (url.pathname === '/log') return this.receiveLog(request, response, Number(url.searchParams.get('index')));
    const body = (await readJson(request)) as { index?: unknown; pid?: unknown };
    if (url.pathname === '/join') return this.join(request, response, typeof body.pid === 'number' ? body.pid : undefined);
    const worker = typeof body.index === 'number' ? this.workers[body.index] : undefined;
    if (!worker) return reply(response, 404, { error: 'no such worker: join first' });
    if (worker.state === 'lost') return reply(response, 410, { error: `worker ${worker.index} was declared lost; its part of the run is over` });
    worker.lastSeenMs = Date.now();
    const orders = (): StopReply => {
      if (this.stopReason !== undefined) return { stop: this.stopReason };
      // Between the barrier and its first interval, a worker's engine may not have started yet.
      const order = worker.state === 'running' ? worker.order : undefined;
      if (order === undefined) return {};
      worker.order = undefined;
      return { rampTo: order };
    };
    switch (url.pathname) {
      case '/heartbeat':
        return reply(response, 200, orders());
      case '/ready':
        return this.ready(worker, response);
      case '/interval': {
        const message = body as IntervalMessage;
        worker.state = 'running';
        worker.runStartedAtMs ??= message.runStartedAtMs;
        worker.points.push(message.point);
        // An order not yet sent says where the worker is heading better than the goal it had.
        if (typeof message.devicesGoal === 'number' && worker.order === undefined) worker.devicesGoal = message.devicesGoal;
        this.emit('interval', worker, message.point);
        return reply(response, 200, orders());
      }
      case '/results': {
        const message = body as ResultsMessage;
        worker.runStartedAtMs ??= message.runStartedAtMs;
        worker.results = message.results;
        worker.state = 'finished';
        reply(response, 200, {});
        this.emit('finished', worker);
        this.checkStartable(worker);
        return this.checkDone();
      }
      default:
        return reply(response, 404, { error: `no POST ${url.pathname}` });
    }
  }

  private join(request: IncomingMessage, response: ServerResponse, pid: number | undefined): void {
    if (this.stopReason !== undefined) return reply(response, 410, { error: 'the coordinator was stopped; the run is over' });
    if (this.workers.length >= this.options.count) return reply(response, 409, { error: `the fleet already has its ${this.options.count} workers` });
    const worker: WorkerRecord = {
      index: this.workers.length,
      state: 'joined',
      lastSeenMs: Date.now(),
      runStartedAtMs: undefined,
      points: [],
      results: undefined,
      logFile: undefined,
      from: request.socket.remoteAddress ?? 'unknown',
      pid,
      devicesGoal: undefined,
      order: undefined,
    };
    this.workers.push(worker);
    const answer: JoinReply = { index: worker.index, count: this.options.count, profile: this.options.profile, flags: this.options.flags, logRequests: this.options.logDir !== undefined };
    reply(response, 200, answer);
    this.emit('joined', worker);
  }

  /** The barrier: each ready worker waits here until all are; then all get one start time. */
  private ready(worker: WorkerRecord, response: ServerResponse): void {
    worker.state = 'ready';
    const answer = (ready: ReadyReply): void => reply(response, ready.startAtMs < 0 && ready.stop === undefined ? 503 : 200, ready);
    if (this.stopReason !== undefined) return answer({ startAtMs: -1, stop: this.stopReason });
    if (this.startAtMs !== undefined) return answer({ startAtMs: this.startAtMs });
    this.waiting.push(answer);
    if (this.workers.length === this.options.count && this.workers.every((w) => w.state === 'ready')) {
      // On a whole second: the merged history aligns intervals by the second they end in.
      const startAtMs = Math.max(this.options.notBeforeMs ?? 0, Math.ceil((Date.now() + (this.options.startDelayMs ?? 200)) / 1000) * 1000);
      this.startAtMs = startAtMs;
      this.emit('barrier', startAtMs);
      for (const resolve of this.waiting.splice(0)) resolve({ startAtMs });
    }
  }

  private async receiveLog(request: IncomingMessage, response: ServerResponse, index: number): Promise<void> {
    const worker = this.workers[index];
    if (!worker || this.options.logDir === undefined) return reply(response, 404, { error: 'no request log expected' });
    worker.lastSeenMs = Date.now();
    const file = path.join(this.options.logDir, `${index}.ndjson`);
    await pipeline(request, createWriteStream(file));
    worker.logFile = file;
    reply(response, 200, {});
  }
}

function reply(response: ServerResponse, status: number, body: unknown): void {
  if (response.headersSent) return;
  response.writeHead(status, { 'content-type': 'application/json' }).end(JSON.stringify(body));
}

async function readJson(request: IncomingMessage): Promise<unknown> {
  const chunks: Buffer[] = [];
  let size = 0;
  for await (const chunk of request as AsyncIterable<Buffer>) {
    size += chunk.length;
    if (size > MAX_BODY_BYTES) throw new Error('body too large');
    chunks.push(chunk);
  }
  return chunks.length === 0 ? {} : (JSON.parse(Buffer.concat(chunks).toString('utf8')) as unknown);
}
