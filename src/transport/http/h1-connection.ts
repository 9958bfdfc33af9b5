import type { IncomingHttpHeaders } from 'node:http';
import type { Duplex } from 'node:stream';
import type { buildConnector, Dispatcher } from 'undici';
import { ResponseParser } from './h1-parser.ts';
import type { ResponseEvents } from './h1-parser.ts';
import type { HttpRequestSpec } from './http-exchange.ts';

/** The pool a connection belongs to: it frees, drops and frames requests for its connections. */
export interface ConnectionOwner {
  /** `host` and keep-alive lines for a request that names no host of its own, and the keep-alive line alone. */
  readonly hostLines: string;
  readonly connectionLine: string;
  /** How long an idle connection is kept when the server names no keep-alive timeout. */
  readonly keepAliveMs: number;
  release(connection: H1Connection): void;
  removed(connection: H1Connection): void;
}

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
export const INVALID_PATH = /[^\u0021-\u00ff]/;
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

/**
 * One keep-alive HTTP/1.1 connection: one request at a time, one parser reused for every
 * response, and itself the request's controller (pause, resume, abort), so a request allocates
 * neither. Large bodies are handed over as the socket reads them and never buffered.
 */
export class H1Connection implements ResponseEvents, Dispatcher.DispatchController {
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
    private readonly pool: ConnectionOwner,
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
