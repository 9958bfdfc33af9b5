import type { Dispatcher } from 'undici';
import { RequestDeadline } from './request-deadline.ts';
import { tlsErrorLabel } from './tls-labels.ts';
import type { AttemptResult } from '../types.ts';

/** Body bytes a response takes in one turn of the event loop before it lets the others run. */
const BODY_SLICE_BYTES = 64 * 1024;

/** undici's own timeouts, kept as a backstop this far behind ours. */
const UNDICI_TIMEOUT_BACKSTOP_MS = 1000;

/** Receives the end of an exchange: exactly one result per dispatched request. */
export interface HttpResultSink {
  httpEnded(result: AttemptResult): void;
}

/** What to send; the fields are rewritten in place for each request, so a device allocates none. */
export interface HttpRequestSpec {
  method: Dispatcher.HttpMethod;
  path: string;
  headers: Readonly<Record<string, string>>;
  body: string | null;
  headersTimeout: number;
  bodyTimeout: number;
}

const NETWORK_ERRORS: Readonly<Record<string, string>> = {
  ECONNREFUSED: 'ECONNREFUSED: connection refused',
  ECONNRESET: 'ECONNRESET: connection reset by peer',
  EPIPE: 'EPIPE: connection closed while sending',
  ENOTFOUND: 'ENOTFOUND: host not found',
  EHOSTUNREACH: 'EHOSTUNREACH: host unreachable',
  UND_ERR_SOCKET: 'connection closed by the server',
  UND_ERR_CLOSED: 'client closed',
  UND_ERR_DESTROYED: 'request aborted at stop',
  UND_ERR_ABORTED: 'request aborted',
  UND_ERR_RESPONSE_STATUS_CODE: 'bad status',
};

/** Maps an undici or socket error to a short label; timeouts are their own outcome. */
export function classifyHttpError(error: unknown): AttemptResult {
  const code = (error as { code?: string }).code ?? '';
  if (code === 'UND_ERR_HEADERS_TIMEOUT') return { outcome: 'timeout', error: 'timeout: no response headers in time', bytesIn: 0, answered: false };
  if (code === 'UND_ERR_BODY_TIMEOUT') return { outcome: 'timeout', error: 'timeout: response body stalled', bytesIn: 0, answered: false };
  if (code === 'UND_ERR_CONNECT_TIMEOUT') return { outcome: 'timeout', error: 'timeout: connect', bytesIn: 0, answered: false };
  const known = Object.hasOwn(NETWORK_ERRORS, code) ? NETWORK_ERRORS[code] : tlsErrorLabel(code, error, 'plain HTTP');
  const label = known ?? (code ? `${code}: ${(error as Error).message}` : (error as Error).message);
  return { outcome: 'failure', error: label, bytesIn: 0, answered: false };
}

/**
 * A request/response slot on the controller-style handler API (`onRequestStart` …
 * `onResponseEnd`), which fleetsim's own client (h1-client.ts) calls as undici's dispatch does: no
 * promise or response stream per request, and the body is counted as it streams, never buffered
 * unless a capture needs it. undici 7's HTTP/1
 * client still calls the legacy hooks it deprecates and adapts these to them per request (a small
 * controller and the parsed response headers); bench/README.md logs what that costs.
 * A device has at most one HTTP request in flight, so one slot per request in flight is enough:
 * devices borrow them from an HttpExchangePool.
 */
export class HttpExchange implements Dispatcher.DispatchHandler {
  readonly request: HttpRequestSpec = { method: 'GET', path: '/', headers: {}, body: null, headersTimeout: 0, bodyTimeout: 0 };
  private expectStatus: ReadonlySet<number> | undefined = undefined;
  private keepBody = false;
  private status = 0;
  private bytesIn = 0;
  private chunks: Buffer[] | undefined;
  private readonly result: AttemptResult = { outcome: 'ok', error: undefined, bytesIn: 0, answered: true };
  /**
   * When undici first wrote the request onto a socket (`process.hrtime.bigint()`), or 0n while it
   * waited in the pool's queue for a free connection (or for a new one to open).
   */
  connectedAt = 0n;
  private timeoutMs = 0;
  private readonly deadline = new RequestDeadline();
  // undici may still be inside its own bookkeeping for this response: the sink runs after it.
  private readonly deliver = (): void => this.sink.httpEnded(this.result);
  /** Body bytes since the last yield to the event loop (see onResponseData). */
  private sliceBytes = 0;
  private paused: Dispatcher.DispatchController | undefined;
  /** Made on the first body large enough to pause: most exchanges never need it. */
  private resume: (() => void) | undefined;

  constructor(
    /** Which device's request it carries: the transport picks the device's connection pool by it. */
    public deviceIndex: number,
    private sink: HttpResultSink,
  ) {}

  /** Lends the slot to another device (see HttpExchangePool): only between requests, never with one in flight. */
  lend(deviceIndex: number, sink: HttpResultSink): void {
    this.deviceIndex = deviceIndex;
    this.sink = sink;
  }

  /**
   * Fills the slot for the next request. `timeoutMs` bounds the wait for headers and each body gap;
   * `expectStatus` undefined means any 2xx; `keepBody` returns the body text (captures need it).
   */
  prepare(
    method: Dispatcher.HttpMethod,
    path: string,
    headers: Readonly<Record<string, string>>,
    body: string | undefined,
    timeoutMs: number,
    expectStatus: ReadonlySet<number> | undefined,
    keepBody: boolean,
  ): void {
    const request = this.request;
    request.method = method;
    request.path = path;
    request.headers = headers;
    request.body = body ?? null;
    // Ours fires on time (see RequestDeadline); undici's coarse ones stay behind it as a backstop.
    this.timeoutMs = timeoutMs;
    request.headersTimeout = request.bodyTimeout = timeoutMs + UNDICI_TIMEOUT_BACKSTOP_MS;
    this.expectStatus = expectStatus;
    this.keepBody = keepBody;
    this.connectedAt = 0n;
    // Reset here, not only on start: a dispatch refused at once reaches onResponseError without onRequestStart.
    this.resetResponse();
  }

  /**
   * undici calls this as it writes the request onto a connection (client-h1's writeH1), after any
   * wait for a free one; again when it retries the request on a new connection.
   */
  onRequestStart(controller: Dispatcher.DispatchController): void {
    if (this.connectedAt === 0n) this.connectedAt = process.hrtime.bigint();
    this.resetResponse();
    this.deadline.start(this.timeoutMs, controller);
  }

  private resetResponse(): void {
    this.status = 0;
    this.bytesIn = 0;
    this.sliceBytes = 0;
    this.chunks = undefined;
  }

  onResponseStart(_controller: Dispatcher.DispatchController, statusCode: number): void {
    this.status = statusCode;
    this.deadline.headers();
  }

  onResponseData(controller: Dispatcher.DispatchController, chunk: Buffer): void {
    this.deadline.data();
    this.bytesIn += chunk.length;
    // A copy: fleetsim's own client hands over slices of a read buffer it reuses.
    if (this.keepBody) (this.chunks ??= []).push(Buffer.from(chunk));
    // A large body arrives as fast as the socket gives it: undici parses everything buffered in
    // one go, and every other connection's answer waits behind it. Past a slice, yield the loop.
    this.sliceBytes += chunk.length;
    if (this.sliceBytes >= BODY_SLICE_BYTES) {
      this.sliceBytes = 0;
      this.paused = controller;
      controller.pause();
      setImmediate(
        (this.resume ??= (): void => {
          const paused = this.paused;
          this.paused = undefined;
          if (paused && !paused.aborted) paused.resume();
        }),
      );
    }
  }

  onResponseEnd(): void {
    this.deadline.stop();
    const status = this.status;
    const result = this.result;
    const expected = this.expectStatus ? this.expectStatus.has(status) : status >= 200 && status < 300;
    result.outcome = expected ? 'ok' : 'failure';
    result.error = expected ? undefined : `HTTP ${status}`;
    result.bytesIn = this.bytesIn;
    // A 4xx or 5xx that arrived is the target's answer, timed like any other (as Locust and k6 do).
    result.answered = true;
    // Only exchanges that keep bodies ever carry one, so the result keeps one shape per device.
    if (this.keepBody) result.body = expected && this.chunks ? Buffer.concat(this.chunks).toString('utf8') : '';
    queueMicrotask(this.deliver);
  }

  /** Also called with no controller when undici refuses the dispatch before any connection (a closed pool). */
  onResponseError(_controller: Dispatcher.DispatchController | undefined, error: Error): void {
    this.deadline.stop();
    const failed = classifyHttpError(error);
    const result = this.result;
    result.outcome = failed.outcome;
    result.error = failed.error;
    result.bytesIn = this.bytesIn;
    result.answered = false;
    if (this.keepBody) result.body = '';
    queueMicrotask(this.deliver);
  }
}
