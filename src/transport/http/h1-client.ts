import type { IncomingHttpHeaders } from 'node:http';
import type { Duplex } from 'node:stream';
import type { buildConnector, Dispatcher } from 'undici';
import { ResponseParser } from './h1-parser.ts';
import type { ResponseEvents } from './h1-parser.ts';
import type { HttpRequestSpec } from './http-exchange.ts';

/**
 * What the client drives: the exchange's controller-style hooks, the same ones undici calls, so one
 * `HttpExchange` works with either client.
 */
export interface H1Handler {
  onRequestStart(controller: Dispatcher.DispatchController, context: unknown): void;
  onResponseStart(controller: Dispatcher.DispatchController, statusCode: number, headers: IncomingHttpHeaders, statusMessage?: string): void;
  onResponseData(controller: Dispatcher.DispatchController, chunk: Buffer): void;
  onResponseEnd(controller: Dispatcher.DispatchController, trailers: IncomingHttpHeaders): void;
  /** Without a controller when the request never reached a connection. */
  onResponseError(controller: Dispatcher.DispatchController | undefined, error: Error): void;
}

/**
 * Errors carry the codes undici gives the same events, so `classifyHttpError` labels a failure the
 * same whichever client met it.
 */
export class H1ClientError extends Error {
  constructor(
    readonly code: string,
    message: string,
  ) {
    super(message);
    this.name = 'H1ClientError';
  }
}

const NO_HEADERS = Object.freeze({}) as Record<string, string>;
/** Methods whose request carries a body: with none they still say `content-length: 0`, as undici does. */
const EXPECTS_PAYLOAD = new Set(['POST', 'PUT', 'PATCH', 'QUERY']);
/** undici refuses these bytes in a path; so does this client, with the same error. */
const INVALID_PATH = /[^\u0021-\u00ff]/;
const INVALID_HEADER_NAME = /[^!#$%&'*+\-.^_`|~0-9A-Za-z]/;
const INVALID_HEADER_VALUE = /[^\t\x20-\x7e\x80-\xff]/;
/** undici's default: a server's `Keep-Alive: timeout` is trusted only up to this much before it. */
const KEEP_ALIVE_THRESHOLD_MS = 2000;
const KEEP_ALIVE_MAX_MS = 600_000;

/** A headers object's lines as sent, and whether it names its own `host`. */
interface EncodedHeaders {
  readonly lines: string;
  readonly host: boolean;
}

/**
 * The encoded header lines of one headers object, kept while the object lives: a compiled
 * template's fixed headers are the same object for every request, so they are encoded once.
 */
const encodedHeaders = new WeakMap<object, EncodedHeaders>();

function encodeHeaders(headers: Readonly<Record<string, string>>): EncodedHeaders {
  const cached = encodedHeaders.get(headers);
  if (cached !== undefined) return cached;
  let lines = '';
  let host = false;
  for (const name of Object.keys(headers)) {
    const value = String(headers[name]);
    if (INVALID_HEADER_NAME.test(name) || name.length === 0) throw new H1ClientError('UND_ERR_INVALID_ARG', 'invalid header key');
    if (INVALID_HEADER_VALUE.test(value)) throw new H1ClientError('UND_ERR_INVALID_ARG', `invalid ${name} header`);
    const lower = name.toLowerCase();
    // The client frames the request itself; a caller's framing headers would contradict it.
    if (lower === 'content-length' || lower === 'transfer-encoding' || lower === 'connection' || lower === 'keep-alive' || lower === 'upgrade') {
      throw new H1ClientError('UND_ERR_INVALID_ARG', `invalid ${name} header`);
    }
    if (lower === 'host') host = true;
    lines += `${name}: ${value}\r\n`;
  }
  const encoded = { lines, host };
  encodedHeaders.set(headers, encoded);
  return encoded;
}

/** Where each socket's connection is found from the socket (the `onread` callback runs with the socket as `this`). */
const CONNECTION = Symbol('h1 connection');
type OwnedSocket = Duplex & { [CONNECTION]?: H1Connection };

/**
 * One read buffer for every plain-TCP socket of the native client: libuv reads into it and the
 * callback parses it at once, before any other socket's read, so no Buffer and no stream
 * machinery per read. Whatever must outlive the callback (a split head, bytes held back by a
 * pause, a kept body) is copied.
 */
const READ_BUFFER = Buffer.allocUnsafe(64 * 1024);

function onSocketRead(this: OwnedSocket, bytes: number, buffer: Buffer): void {
  const connection = this[CONNECTION];
  if (connection) connection.received(buffer.subarray(0, bytes));
  // A socket opened ahead that the server wrote to before any request: not to be trusted.
  else this.destroy();
}

/**
 * The connect options of a plain-TCP native pool: the socket reads into the shared buffer. TLS
 * sockets and a link's wrapped stream read as streams do (their `data` events).
 */
export function withOwnReads(options: buildConnector.BuildOptions): buildConnector.BuildOptions {
  return { ...options, onread: { buffer: READ_BUFFER, callback: onSocketRead as (bytes: number, buffer: Uint8Array) => boolean } };
}

/** Pools with connections that may go stale; one coarse timer checks them all, not one per request or per pool. */
const sweptPools = new Set<H1Pool>();
let sweeper: NodeJS.Timeout | undefined;
const SWEEP_MS = 500;

function sweepAll(): void {
  const now = Date.now();
  for (const pool of sweptPools) pool.closeStale(now);
}

function swept(pool: H1Pool, on: boolean): void {
  if (on) sweptPools.add(pool);
  else sweptPools.delete(pool);
  if (sweptPools.size > 0) sweeper ??= setInterval(sweepAll, SWEEP_MS).unref();
  else if (sweeper) {
    clearInterval(sweeper);
    sweeper = undefined;
  }
}

/**
 * One keep-alive HTTP/1.1 connection: one request at a time, one parser reused for every
 * response, and itself the request's controller (pause, resume, abort), so a request allocates
 * neither. Large bodies are handed over as the socket reads them and never buffered.
 */
class H1Connection implements ResponseEvents, Dispatcher.DispatchController {
  private readonly parser = new ResponseParser(this);
  private handler: H1Handler | undefined;
  private isPaused = false;
  /** Unparsed bytes left when a body callback paused the response. */
  private rest: Buffer | undefined;
  private failed: Error | undefined;
  private isAborted = false;
  /** Close once this response has ended, whatever it says (the request was a HEAD). */
  private closeAfter = false;
  /** When the connection last went idle (Date.now()), and how long the server lets it stay so. */
  idleSince = 0;
  keepAliveMs: number;
  closed = false;

  constructor(
    readonly socket: Duplex,
    private readonly pool: H1Pool,
  ) {
    this.keepAliveMs = pool.keepAliveMs;
    (socket as OwnedSocket)[CONNECTION] = this;
    // Sockets reading into the shared buffer never emit `data`; the others (TLS, links) do.
    socket.on('data', (data: Buffer) => this.received(data));
    socket.on('end', () => this.ended());
    socket.on('error', (error: Error) => (this.failed ??= error));
    socket.on('close', () => this.socketClosed());
  }

  get busy(): boolean {
    return this.handler !== undefined;
  }

  get aborted(): boolean {
    return this.isAborted;
  }

  get paused(): boolean {
    return this.isPaused;
  }

  get reason(): Error | null {
    return this.failed ?? null;
  }

  /** Writes the request (one string, one write); the handler hears the rest. */
  send(request: HttpRequestSpec, handler: H1Handler): void {
    let head: string;
    try {
      const headers = encodeHeaders(request.headers);
      head = `${request.method} ${request.path} HTTP/1.1\r\n${headers.host ? this.pool.connectionLine : this.pool.hostLines}${headers.lines}`;
    } catch (error) {
      this.pool.release(this);
      return handler.onResponseError(this, error as Error);
    }
    this.handler = handler;
    this.isPaused = false;
    const isHead = request.method === 'HEAD';
    // As undici does: a server that sends a body after all to a HEAD would break the next response.
    this.closeAfter = isHead;
    this.parser.expect(isHead);
    handler.onRequestStart(this, undefined);
    // The handler may have aborted at once (a deadline of zero): nothing more to write.
    if (this.handler !== handler) return;
    const body = request.body;
    if (body !== null) this.socket.write(`${head}content-length: ${Buffer.byteLength(body)}\r\n\r\n${body}`);
    else this.socket.write(EXPECTS_PAYLOAD.has(request.method) ? `${head}content-length: 0\r\n\r\n` : `${head}\r\n`);
  }

  onHead(status: number): void {
    this.handler?.onResponseStart(this, status, NO_HEADERS, '');
  }

  onBody(chunk: Buffer): boolean {
    this.handler?.onResponseData(this, chunk);
    return !this.isPaused && this.handler !== undefined;
  }

  received(data: Buffer): void {
    if (!this.handler) {
      // Bytes nobody asked for: the connection cannot be trusted with the next request.
      this.socket.destroy();
      return;
    }
    this.parse(data, 0);
  }

  private parse(data: Buffer, offset: number): void {
    let at: number;
    try {
      at = this.parser.execute(data, offset);
    } catch (error) {
      this.fail(error as Error);
      return;
    }
    if (!this.handler) return;
    if (this.parser.done) return this.complete(at < data.length);
    // Held until resume: a copy, since the shared read buffer is refilled by the next read.
    if (at < data.length) this.rest = Buffer.from(data.subarray(at));
  }

  /** The response ended; `extra` says the server sent bytes past it. */
  private complete(extra: boolean): void {
    const handler = this.handler as H1Handler;
    this.handler = undefined;
    this.rest = undefined;
    if (this.isPaused) {
      this.isPaused = false;
      this.socket.resume();
    }
    const parser = this.parser;
    if (parser.keepAliveHintMs >= 0) this.keepAliveMs = Math.min(parser.keepAliveHintMs - KEEP_ALIVE_THRESHOLD_MS, KEEP_ALIVE_MAX_MS);
    if (!parser.keepAlive || extra || this.keepAliveMs <= 0 || this.closeAfter) {
      this.closed = true;
      this.socket.destroy();
    }
    // Free before the handler hears: its next request may want this very connection.
    this.pool.release(this);
    handler.onResponseEnd(this, NO_HEADERS);
  }

  private fail(error: Error): void {
    const handler = this.handler;
    this.handler = undefined;
    this.rest = undefined;
    this.closed = true;
    this.socket.destroy();
    handler?.onResponseError(this, error);
  }

  private ended(): void {
    if (this.handler && this.parser.endsAtClose) {
      this.parser.finishAtClose();
      return this.complete(false);
    }
    this.fail(new H1ClientError('UND_ERR_SOCKET', 'other side closed'));
  }

  private socketClosed(): void {
    this.closed = true;
    if (this.handler) {
      if (this.parser.endsAtClose && (!this.failed || (this.failed as { code?: string }).code === 'ECONNRESET')) {
        this.parser.finishAtClose();
        this.complete(false);
      } else this.fail(this.failed ?? new H1ClientError('UND_ERR_SOCKET', 'closed'));
    }
    this.pool.removed(this);
  }

  pause(): void {
    if (this.isPaused || !this.handler) return;
    this.isPaused = true;
    this.socket.pause();
  }

  resume(): void {
    if (!this.isPaused) return;
    this.isPaused = false;
    const rest = this.rest;
    this.rest = undefined;
    if (rest && this.handler) this.parse(rest, 0);
    if (!this.isPaused && !this.closed) this.socket.resume();
  }

  abort(reason: Error): void {
    if (!this.handler) return;
    this.isAborted = true;
    this.fail(reason);
  }

  /** The pool is being destroyed: the request in flight ends with `reason`. */
  destroy(reason: Error): void {
    if (this.handler) this.fail(reason);
    else {
      this.closed = true;
      this.socket.destroy();
    }
  }
}

interface Waiting {
  readonly request: HttpRequestSpec;
  readonly handler: H1Handler;
}

export interface H1PoolOptions {
  /** Connections this pool may hold open at once. */
  readonly connections: number;
  /** How long an idle connection is kept when the server names no `Keep-Alive: timeout`. */
  readonly keepAliveMs: number;
  readonly localAddress?: string | undefined;
}

/**
 * fleetsim's own HTTP/1.1 client for plain keep-alive traffic, one per origin: up to `connections`
 * sockets, opened through an undici connector (the same TCP and TLS set-up, connect timeout,
 * source address and network link as the undici path), a request at a time on each, and a queue
 * for requests that find all of them busy. Requests go out as one pre-framed string; responses
 * go through one parser per socket. It has the same `dispatch(request, handler)` shape as an undici
 * Dispatcher, with the handler's controller-style hooks, and undici's error codes.
 */
export class H1Pool {
  private readonly idle: H1Connection[] = [];
  private readonly all = new Set<H1Connection>();
  private connecting = 0;
  private readonly waiting: Waiting[] = [];
  private waitingHead = 0;
  private isClosed = false;
  private closedResolve: (() => void) | undefined;
  /** What every request's head carries before its own headers: `host` (unless it names its own) and keep-alive. */
  readonly hostLines: string;
  readonly connectionLine = 'connection: keep-alive\r\n';
  readonly keepAliveMs: number;

  constructor(
    private readonly origin: URL,
    private readonly connector: buildConnector.connector,
    private readonly options: H1PoolOptions,
  ) {
    this.keepAliveMs = options.keepAliveMs;
    this.hostLines = `host: ${origin.host}\r\n${this.connectionLine}`;
    swept(this, true);
  }

  dispatch(request: HttpRequestSpec, handler: H1Handler): boolean {
    if (this.isClosed) {
      handler.onResponseError(undefined, new H1ClientError(this.closedResolve ? 'UND_ERR_CLOSED' : 'UND_ERR_DESTROYED', 'The client is closed'));
      return false;
    }
    const path = request.path;
    if (path.charCodeAt(0) !== 47 && !path.startsWith('http://') && !path.startsWith('https://')) {
      handler.onResponseError(undefined, new H1ClientError('UND_ERR_INVALID_ARG', 'path must be an absolute URL or start with a slash'));
      return false;
    }
    if (INVALID_PATH.test(path)) {
      handler.onResponseError(undefined, new H1ClientError('UND_ERR_INVALID_ARG', 'invalid request path'));
      return false;
    }
    for (let connection = this.idle.pop(); connection; connection = this.idle.pop()) {
      if (connection.closed) continue;
      connection.send(request, handler);
      return true;
    }
    this.waiting.push({ request, handler });
    if (this.all.size + this.connecting < this.options.connections) this.connect();
    return true;
  }


  private connect(): void {
    this.connecting++;
    const { host, protocol, port } = this.origin;
    const hostname = this.origin.hostname.startsWith('[') ? this.origin.hostname.slice(1, -1) : this.origin.hostname;
    this.connector({ host, hostname, protocol, port, localAddress: this.options.localAddress ?? null }, (error, socket) => {
      this.connecting--;
      if (error || !socket) {
        // The request this connection was for fails with why, as undici's does; the others wait their turn.
        const next = this.nextWaiting();
        next?.handler.onResponseError(undefined, error ?? new H1ClientError('UND_ERR_SOCKET', 'no socket'));
        if (this.pendingCount() > 0 && !this.isClosed) this.connect();
        this.maybeClosed();
        return;
      }
      if (this.isClosed && !this.closedResolve) return void socket.destroy();
      const connection = new H1Connection(socket, this);
      this.all.add(connection);
      this.release(connection);
    });
  }

  private pendingCount(): number {
    return this.waiting.length - this.waitingHead;
  }

  private nextWaiting(): Waiting | undefined {
    if (this.waitingHead >= this.waiting.length) return undefined;
    const next = this.waiting[this.waitingHead++];
    if (this.waitingHead > 1024 && this.waitingHead * 2 > this.waiting.length) {
      this.waiting.splice(0, this.waitingHead);
      this.waitingHead = 0;
    }
    return next;
  }

  /** A connection is free: the next waiting request takes it, or it waits idle. */
  release(connection: H1Connection): void {
    if (connection.closed) return;
    const next = this.nextWaiting();
    if (next) return connection.send(next.request, next.handler);
    connection.idleSince = Date.now();
    this.idle.push(connection);
    this.maybeClosed();
  }

  removed(connection: H1Connection): void {
    this.all.delete(connection);
    const at = this.idle.indexOf(connection);
    if (at >= 0) this.idle.splice(at, 1);
    if (this.pendingCount() > this.connecting && this.all.size + this.connecting < this.options.connections && !this.isClosed) this.connect();
    this.maybeClosed();
  }

  /** Closes the idle connections kept past their keep-alive (the server's hint, or ours). */
  closeStale(now: number): void {
    for (const connection of this.idle) if (now - connection.idleSince >= connection.keepAliveMs) connection.destroy(new H1ClientError('UND_ERR_INFO', 'idle'));
  }

  private busyCount(): number {
    let busy = 0;
    for (const connection of this.all) if (connection.busy) busy++;
    return busy;
  }

  private maybeClosed(): void {
    if (!this.closedResolve || this.pendingCount() > 0 || this.busyCount() > 0) return;
    const resolve = this.closedResolve;
    this.closedResolve = undefined;
    for (const connection of [...this.all]) connection.destroy(new H1ClientError('UND_ERR_CLOSED', 'closed'));
    swept(this, false);
    resolve();
  }

  /** Waits for the requests in flight and queued, then closes every connection. */
  close(): Promise<void> {
    if (this.isClosed) return Promise.resolve();
    this.isClosed = true;
    const closed = new Promise<void>((resolve) => (this.closedResolve = resolve));
    this.maybeClosed();
    return closed;
  }

  /** Ends the requests in flight and queued at once, and closes every connection. */
  destroy(): Promise<void> {
    this.isClosed = true;
    this.closedResolve = undefined;
    swept(this, false);
    const reason = new H1ClientError('UND_ERR_DESTROYED', 'The client is destroyed');
    for (let next = this.nextWaiting(); next; next = this.nextWaiting()) next.handler.onResponseError(undefined, reason);
    for (const connection of [...this.all]) connection.destroy(reason);
    return Promise.resolve();
  }
}
