import { Client, Pool } from 'undici';
import type { Dispatcher } from 'undici';
import { HttpExchange } from './http-exchange.ts';
import type { AttemptResult, DeviceTls, TlsOptions } from './types.ts';

export interface HttpTransportOptions {
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

/** undici's connect options for a TLS client: `timeout` bounds TCP and TLS set-up. */
function connectOptions(timeoutMs: number, tls: TlsOptions | undefined): NonNullable<Client.Options['connect']> {
  return {
    timeout: timeoutMs,
    ...(tls?.ca ? { ca: tls.ca } : {}),
    ...(tls?.cert ? { cert: tls.cert } : {}),
    ...(tls?.key ? { key: tls.key } : {}),
    rejectUnauthorized: tls?.rejectUnauthorized ?? true,
  };
}

/**
 * HTTP over undici: one Pool per origin shared by the fleet, or one keep-alive Client per device.
 * With per-device client certificates, one Pool per distinct certificate (a device with its own
 * certificate gets its own connection), or still one Client per device.
 * Requests go in at the dispatch level through each device's reusable `HttpExchange`; latency ends
 * when the body has been read, so the caller times from `dispatch` to its sink.
 */
export class HttpTransport {
  private readonly pool: Pool | undefined;
  /** Per device: its own Client, its certificate's Pool, or why it has no TLS material. */
  private readonly byDevice: (Dispatcher | string | undefined)[] = [];
  /** Per-certificate pools, by the files presented. */
  private readonly certificatePools = new Map<string, Pool>();
  private readonly connect: NonNullable<Client.Options['connect']>;

  constructor(
    private readonly origin: string,
    private readonly options: HttpTransportOptions,
  ) {
    this.connect = connectOptions(options.timeoutMs, options.tls);
    if (!options.connectionPerDevice && !options.tlsFor) {
      this.pool = new Pool(origin, { connections: options.connections, pipelining: 1, keepAliveTimeout: 30_000, connect: this.connect });
    }
  }

  /** A device's dispatcher the first time it sends. */
  private open(deviceIndex: number): Dispatcher | string {
    const tls = this.options.tlsFor?.(deviceIndex);
    let dispatcher: Dispatcher | string;
    if (tls?.problem !== undefined) dispatcher = tls.problem;
    else if (this.options.connectionPerDevice) {
      dispatcher = new Client(this.origin, { pipelining: 1, keepAliveTimeout: 30_000, connect: tls ? connectOptions(this.options.timeoutMs, tls) : this.connect });
    } else {
      const id = tls?.id ?? '';
      let pool = this.certificatePools.get(id);
      if (!pool) {
        pool = new Pool(this.origin, { connections: this.options.connections, pipelining: 1, keepAliveTimeout: 30_000, connect: connectOptions(this.options.timeoutMs, tls) });
        this.certificatePools.set(id, pool);
      }
      dispatcher = pool;
    }
    this.byDevice[deviceIndex] = dispatcher;
    return dispatcher;
  }

  /** Sends what the exchange holds; its sink hears the result once, never synchronously. */
  dispatch(exchange: HttpExchange): void {
    const dispatcher = this.pool ?? this.byDevice[exchange.deviceIndex] ?? this.open(exchange.deviceIndex);
    // Its certificate or key could not be read: the request fails with why, as a connect would.
    if (typeof dispatcher === 'string') exchange.onError(new Error(dispatcher));
    else dispatcher.dispatch(exchange.request, exchange);
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
    if (dispatcher instanceof Client) dispatcher.close().catch(() => undefined);
  }

  /** Waits for in-flight requests, then closes every connection. */
  async close(): Promise<void> {
    await Promise.all(this.dispatchers().map((dispatcher) => dispatcher.close()));
  }

  /** Aborts in-flight requests and closes every connection at once. */
  async destroy(): Promise<void> {
    await Promise.all(this.dispatchers().map((dispatcher) => dispatcher.destroy()));
  }

  private dispatchers(): Dispatcher[] {
    const all = new Set<Dispatcher>(this.certificatePools.values());
    if (this.pool) all.add(this.pool);
    for (const dispatcher of this.byDevice) if (dispatcher && typeof dispatcher !== 'string') all.add(dispatcher);
    return [...all];
  }

  /** Connections are opened per certificate (for tests and `validate`): how many pools or clients exist. */
  get dispatcherCount(): number {
    return this.dispatchers().length;
  }
}
