import { Client, Pool } from 'undici';
import type { Dispatcher } from 'undici';
import type { TlsSettings } from '../profile/types.ts';
import { HttpExchange } from './http-exchange.ts';
import type { AttemptResult } from './types.ts';

export interface HttpTransportOptions {
  /** Connections per origin in the shared pool. */
  readonly connections: number;
  /** One keep-alive connection per device instead of a shared pool. */
  readonly connectionPerDevice: boolean;
  /** Connection set-up (TCP and TLS) limit; per-request limits cover waiting for headers and each body gap. */
  readonly timeoutMs: number;
  /** CA, client certificate and verification for https:// origins. */
  readonly tls?: TlsSettings | undefined;
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

/**
 * HTTP over undici: one Pool per origin shared by the fleet, or one keep-alive Client per device.
 * With source addresses (`--local-ips`), device i connects from address i mod k: one Pool per
 * address, the pool's connections split among them, or each device's Client bound to its address.
 * Requests go in at the dispatch level through each device's reusable `HttpExchange`; latency ends
 * when the body has been read, so the caller times from `dispatch` to its sink.
 */
export class HttpTransport {
  /** One per source address (one in all without any), by device index mod their count. */
  private readonly pools: Pool[] = [];
  private readonly clients: (Client | undefined)[] = [];
  private readonly connect: NonNullable<Client.Options['connect']>;
  /** Source addresses, or one undefined (the system's choice) without any. */
  private readonly sources: readonly (string | undefined)[];

  constructor(
    private readonly origin: string,
    options: HttpTransportOptions,
    localAddresses: readonly string[] = [],
  ) {
    const tls = options.tls;
    this.connect = {
      timeout: options.timeoutMs,
      ...(tls?.ca ? { ca: tls.ca } : {}),
      ...(tls?.cert ? { cert: tls.cert } : {}),
      ...(tls?.key ? { key: tls.key } : {}),
      rejectUnauthorized: tls?.rejectUnauthorized ?? true,
    };
    this.sources = localAddresses.length === 0 ? [undefined] : localAddresses;
    if (!options.connectionPerDevice) {
      // The profile's `connections` stays the fleet's total, whatever the number of addresses.
      const connections = Math.max(1, Math.ceil(options.connections / this.sources.length));
      for (const source of this.sources) this.pools.push(new Pool(origin, { ...this.clientOptions(source), connections }));
    }
  }

  /**
   * undici's own `localAddress` option, not the connector's: the client passes its own (null when
   * unset) to the connector, over whatever the connect options held.
   */
  private clientOptions(localAddress: string | undefined): Client.Options {
    return { pipelining: 1, keepAliveTimeout: 30_000, connect: this.connect, ...(localAddress === undefined ? {} : { localAddress }) };
  }

  private dispatcherFor(deviceIndex: number): Dispatcher {
    const pool = this.pools[deviceIndex % this.pools.length];
    if (pool) return pool;
    let client = this.clients[deviceIndex];
    if (!client) {
      client = new Client(this.origin, this.clientOptions(this.sources[deviceIndex % this.sources.length]));
      this.clients[deviceIndex] = client;
    }
    return client;
  }

  /** Sends what the exchange holds; its sink hears the result once, never synchronously. */
  dispatch(exchange: HttpExchange): void {
    this.dispatcherFor(exchange.deviceIndex).dispatch(exchange.request, exchange);
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
    const client = this.clients[deviceIndex];
    if (!client) return;
    this.clients[deviceIndex] = undefined;
    // Nothing of the device's is in flight any more; a close that fails changes no result.
    client.close().catch(() => undefined);
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
    const all: Dispatcher[] = [...this.pools];
    for (const client of this.clients) if (client) all.push(client);
    return all;
  }
}
