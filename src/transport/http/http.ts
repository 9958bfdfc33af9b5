import { buildConnector, Client, Pool } from 'undici';
import type { Dispatcher } from 'undici';
import { H1Pool, withOwnReads } from './h1-client.ts';
import { HttpExchange } from './http-exchange.ts';
import { PreopenedConnector, SPARE_LIFETIME_MS } from './http-preconnect.ts';
import type { AttemptResult, DeviceTls, TlsOptions } from '../types.ts';
import { shapedConnector } from '../link/shaped-connector.ts';
import type { LinkConditions } from '../link/link-conditions.ts';

/** Which HTTP/1.1 client carries the requests: fleetsim's own (h1-client.ts, the default), or undici's. */
export type HttpClientKind = 'undici' | 'native';

const isUndici = (client: HttpClientKind | undefined): boolean => client === 'undici';

export interface HttpTransportOptions {
  /** fleetsim's own HTTP/1.1 client (`native`, the default) or undici's; connecting and TLS are undici's connector either way. */
  readonly client?: HttpClientKind | undefined;
  /** Connections per origin in the shared pool. */
  readonly connections: number;
  /** One keep-alive connection per device instead of a shared pool. */
  readonly connectionPerDevice: boolean;
  /** Connection set-up (TCP and TLS) limit; per-request limits cover waiting for headers and each body gap. */
  readonly timeoutMs: number;
  /** CA, client certificate and verification for https:// origins, the same for every device. */
  readonly tls?: TlsOptions | undefined;
  /**
   * Each device's own TLS material (per-device client certificates), asked once per device. Devices
   * presenting the same files share a pool; different certificates never share a connection.
   */
  readonly tlsFor?: ((deviceIndex: number) => DeviceTls) | undefined;
  /**
   * Each device's simulated network link, asked once per device: a device with one gets its own
   * connection through it (a link is the device's own), whatever `connectionPerDevice` says.
   */
  readonly linkFor?: ((deviceIndex: number) => LinkConditions | undefined) | undefined;
}

/** A single request with its own promise: for callers outside the engine's hot path. */
export interface HttpAttempt {
  readonly deviceIndex: number;
  readonly method: Dispatcher.HttpMethod;
  readonly path: string;
  readonly headers: Record<string, string>;
  readonly body: string | undefined;
  readonly timeoutMs: number;
  /** Statuses that count as success; undefined means any 2xx. */
  readonly expectStatus?: ReadonlySet<number> | undefined;
  /** Return the body text (captures need it); otherwise it is only counted. */
  readonly keepBody?: boolean;
}

/** A dispatcher of either client: both take `dispatch(request, exchange)`, `close()` and `destroy()`. */
type AnyDispatcher = Dispatcher | H1Pool;

/** How long an idle connection is kept when the server names no keep-alive timeout of its own. */
const KEEP_ALIVE_MS = 30_000;

/** undici's connect options for a TLS client: `timeout` bounds TCP and TLS set-up. */
function connectOptions(timeoutMs: number, tls: TlsOptions | undefined): buildConnector.BuildOptions {
  return {
    timeout: timeoutMs,
    ...(tls?.ca ? { ca: tls.ca } : {}),
    ...(tls?.cert ? { cert: tls.cert } : {}),
    ...(tls?.key ? { key: tls.key } : {}),
    rejectUnauthorized: tls?.rejectUnauthorized ?? true,
  };
}

/**
 * HTTP over fleetsim's own HTTP/1.1 client (H1Pool, the default) or undici's: one pool per origin
 * shared by the fleet, or one keep-alive connection per device (an undici Client, or an H1Pool of one).
 * With source addresses (`--local-ips`), device i connects from address i mod k: one Pool per
 * address, the pool's connections split among them, or each device's Client bound to its address.
 * With per-device client certificates, one Pool per distinct certificate (and address): a device
 * with its own certificate gets its own connection; or still one Client per device.
 * Requests go in at the dispatch level through each device's reusable `HttpExchange`; latency ends
 * when the body has been read, so the caller times from `dispatch` to its sink.
 */
export class HttpTransport {
  /** One per source address (one in all without any), by device index mod their count; none with per-device certificates. */
  private readonly pools: AnyDispatcher[] = [];
  /** Per device: its own Client, its certificate's Pool, or why it has no TLS material. */
  private readonly byDevice: (AnyDispatcher | string | undefined)[] = [];
  /** Per-certificate pools, by source address and the files presented. */
  private readonly certificatePools = new Map<string, AnyDispatcher>();
  /** The native client's per-device connections (a device's own, closed when it stops). */
  private readonly ownNative = new WeakSet<H1Pool>();
  private readonly connect: buildConnector.BuildOptions;
  /** Source addresses, or one undefined (the system's choice) without any. */
  private readonly sources: readonly (string | undefined)[];
  /** Connections of each pool: the profile's `connections` stays the fleet's total, whatever the number of addresses. */
  private readonly poolConnections: number;
  /** The shared pools' connectors, each able to open its pool's connections before the run. */
  private readonly preopened: PreopenedConnector[] = [];

  constructor(
    private readonly origin: string,
    private readonly options: HttpTransportOptions,
    localAddresses: readonly string[] = [],
  ) {
    this.connect = connectOptions(options.timeoutMs, options.tls);
    const reads = this.readsOf(this.connect);
    this.sources = localAddresses.length === 0 ? [undefined] : localAddresses;
    this.poolConnections = Math.max(1, Math.ceil(options.connections / this.sources.length));
    if (!options.connectionPerDevice && !options.tlsFor) {
      // Devices with a link of their own skip the shared pools (see `dispatch`).
      for (const source of this.sources) {
        const preopened = new PreopenedConnector(reads, new URL(origin), SPARE_LIFETIME_MS, source ?? null);
        this.preopened.push(preopened);
        this.pools.push(this.pool(source, preopened.connect, this.poolConnections));
      }
    }
  }

  /**
   * undici's own `localAddress` option, not the connector's: the client passes its own (null when
   * unset) to the connector, over whatever the connect options held.
   */
  private clientOptions(localAddress: string | undefined, connect: NonNullable<Client.Options['connect']>): Client.Options {
    return { pipelining: 1, keepAliveTimeout: 30_000, connect, ...(localAddress === undefined ? {} : { localAddress }) };
  }

  /** A pool of `connections` to the origin, on the client the options chose. */
  private pool(source: string | undefined, connect: buildConnector.connector | buildConnector.BuildOptions, connections: number): AnyDispatcher {
    if (isUndici(this.options.client)) return new Pool(this.origin, { ...this.clientOptions(source, connect), connections });
    const connector = typeof connect === 'function' ? connect : buildConnector(connect);
    return new H1Pool(new URL(this.origin), connector, { connections, keepAliveMs: KEEP_ALIVE_MS, localAddress: source });
  }

  /** Connect options for a connection without a link: the native client's plain-TCP sockets read into its own buffer. */
  private readsOf(connect: buildConnector.BuildOptions): buildConnector.BuildOptions {
    return !isUndici(this.options.client) && new URL(this.origin).protocol === 'http:' ? withOwnReads(connect) : connect;
  }

  /** One device's own keep-alive connection. */
  private client(source: string | undefined, connect: buildConnector.connector | buildConnector.BuildOptions): AnyDispatcher {
    if (isUndici(this.options.client)) return new Client(this.origin, this.clientOptions(source, connect));
    const own = this.pool(source, connect, 1) as H1Pool;
    this.ownNative.add(own);
    return own;
  }

  /** A device's dispatcher the first time it sends (without shared pools). */
  private open(deviceIndex: number): AnyDispatcher | string {
    const tls = this.options.tlsFor?.(deviceIndex);
    const sourceIndex = deviceIndex % this.sources.length;
    const source = this.sources[sourceIndex];
    const connect = tls ? connectOptions(this.options.timeoutMs, tls) : this.connect;
    const link = this.options.linkFor?.(deviceIndex);
    let dispatcher: AnyDispatcher | string;
    if (tls?.problem !== undefined) dispatcher = tls.problem;
    else if (link) dispatcher = this.client(source, shapedConnector(connect, link));
    else if (this.options.connectionPerDevice) dispatcher = this.client(source, this.readsOf(connect));
    else {
      const id = `${sourceIndex}\n${tls?.id ?? ''}`;
      let pool = this.certificatePools.get(id);
      if (!pool) {
        pool = this.pool(source, this.readsOf(connect), this.poolConnections);
        this.certificatePools.set(id, pool);
      }
      dispatcher = pool;
    }
    this.byDevice[deviceIndex] = dispatcher;
    return dispatcher;
  }

  /**
   * Opens up to `count` of the shared pools' connections ahead of their first requests (see
   * PreopenedConnector); a device's own connections open with its first request. Resolves with how
   * many opened within `withinMs`.
   */
  async preconnect(count: number, withinMs: number): Promise<number> {
    if (this.preopened.length === 0) return 0;
    const each = Math.ceil(Math.min(count, this.options.connections) / this.preopened.length);
    const opened = await Promise.all(this.preopened.map((connector) => connector.open(Math.min(each, this.poolConnections), withinMs)));
    return opened.reduce((sum, n) => sum + n, 0);
  }

  /** The run's clock started: connections opened ahead and still unused a few seconds on are closed. */
  runStarted(): void {
    for (const connector of this.preopened) connector.started();
  }

  /** Sends what the exchange holds; its sink hears the result once, never synchronously. */
  dispatch(exchange: HttpExchange): void {
    const index = exchange.deviceIndex;
    const dispatcher = (this.options.linkFor === undefined ? this.pools[index % this.pools.length] : undefined) ?? this.byDevice[index] ?? this.linkedOrPooled(index);
    // Its certificate or key could not be read: the request fails with why, as a connect would.
    if (typeof dispatcher === 'string') exchange.onResponseError(undefined, new Error(dispatcher));
    else dispatcher.dispatch(exchange.request, exchange);
  }

  /** With links in the run: a device with one opens its own connection, one without takes its pool. */
  private linkedOrPooled(index: number): AnyDispatcher | string {
    if (this.pools.length === 0 || this.options.linkFor?.(index) !== undefined) return this.open(index);
    return (this.byDevice[index] = this.pools[index % this.pools.length] as AnyDispatcher);
  }

  send(attempt: HttpAttempt): Promise<AttemptResult> {
    return new Promise((resolve) => {
      const exchange = new HttpExchange(attempt.deviceIndex, { httpEnded: (result) => resolve({ ...result }) });
      exchange.prepare(attempt.method, attempt.path, attempt.headers, attempt.body, attempt.timeoutMs, attempt.expectStatus, attempt.keepBody ?? false);
      this.dispatch(exchange);
    });
  }

  /** A device that stopped before the run's end: closes its own connection, if it has one (a pool is shared). */
  release(deviceIndex: number): void {
    const dispatcher = this.byDevice[deviceIndex];
    this.byDevice[deviceIndex] = undefined;
    // Nothing of the device's is in flight any more; a close that fails changes no result.
    if (dispatcher instanceof Client || (dispatcher instanceof H1Pool && this.ownNative.has(dispatcher))) dispatcher.close().catch(() => undefined);
  }

  /** Waits for in-flight requests, then closes every connection. */
  async close(): Promise<void> {
    for (const connector of this.preopened) connector.close();
    await Promise.all(this.dispatchers().map((dispatcher) => dispatcher.close()));
  }

  /** Aborts in-flight requests and closes every connection at once. */
  async destroy(): Promise<void> {
    for (const connector of this.preopened) connector.close();
    await Promise.all(this.dispatchers().map((dispatcher) => dispatcher.destroy()));
  }

  private dispatchers(): AnyDispatcher[] {
    const all = new Set<AnyDispatcher>([...this.pools, ...this.certificatePools.values()]);
    for (const dispatcher of this.byDevice) if (dispatcher && typeof dispatcher !== 'string') all.add(dispatcher);
    return [...all];
  }
}
