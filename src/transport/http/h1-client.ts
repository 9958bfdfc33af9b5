import type { buildConnector } from 'undici';
import { H1ClientError, H1Connection, INVALID_PATH } from './h1-connection.ts';
import type { H1Handler } from './h1-connection.ts';
import type { HttpRequestSpec } from './http-exchange.ts';

export { H1ClientError, withOwnReads } from './h1-connection.ts';
export type { H1Handler } from './h1-connection.ts';

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
