import { Client, Pool } from 'undici';
import type { Dispatcher } from 'undici';
import type { TlsSettings } from '../profile/types.ts';
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
  if (code === 'UND_ERR_HEADERS_TIMEOUT') return { outcome: 'timeout', error: 'timeout: no response headers in time', bytesIn: 0 };
  if (code === 'UND_ERR_BODY_TIMEOUT') return { outcome: 'timeout', error: 'timeout: response body stalled', bytesIn: 0 };
  if (code === 'UND_ERR_CONNECT_TIMEOUT') return { outcome: 'timeout', error: 'timeout: connect', bytesIn: 0 };
  const label = NETWORK_ERRORS[code] ?? (code ? `${code}: ${(error as Error).message}` : (error as Error).message);
  return { outcome: 'failure', error: label, bytesIn: 0 };
}

/**
 * HTTP over undici: one Pool per origin shared by the fleet, or one keep-alive Client per device.
 * Latency ends when the body has been read, so the caller times around `send`.
 */
export class HttpTransport {
  private readonly pool: Pool | undefined;
  private readonly clients: (Client | undefined)[] = [];
  private readonly connect: NonNullable<Client.Options['connect']>;

  constructor(
    private readonly origin: string,
    private readonly options: HttpTransportOptions,
  ) {
    const tls = options.tls;
    this.connect = {
      timeout: options.timeoutMs,
      ...(tls?.ca ? { ca: tls.ca } : {}),
      ...(tls?.cert ? { cert: tls.cert } : {}),
      ...(tls?.key ? { key: tls.key } : {}),
      rejectUnauthorized: tls?.rejectUnauthorized ?? true,
    };
    if (!options.connectionPerDevice) {
      this.pool = new Pool(origin, { connections: options.connections, pipelining: 1, keepAliveTimeout: 30_000, connect: this.connect });
    }
  }

  private dispatcherFor(deviceIndex: number): Dispatcher {
    if (this.pool) return this.pool;
    let client = this.clients[deviceIndex];
    if (!client) {
      client = new Client(this.origin, { pipelining: 1, keepAliveTimeout: 30_000, connect: this.connect });
      this.clients[deviceIndex] = client;
    }
    return client;
  }

  async send(attempt: HttpAttempt): Promise<AttemptResult> {
    try {
      const response = await this.dispatcherFor(attempt.deviceIndex).request({
        path: attempt.path,
        method: attempt.method,
        headers: attempt.headers,
        body: attempt.body ?? null,
        headersTimeout: attempt.timeoutMs,
        bodyTimeout: attempt.timeoutMs,
      });
      let bytesIn = 0;
      let text: string | undefined;
      if (attempt.keepBody) {
        text = await response.body.text();
        bytesIn = Buffer.byteLength(text);
      } else {
        for await (const chunk of response.body) bytesIn += (chunk as Buffer).length;
      }
      const status = response.statusCode;
      const expected = attempt.expectStatus ? attempt.expectStatus.has(status) : status >= 200 && status < 300;
      if (expected) return text === undefined ? { outcome: 'ok', error: undefined, bytesIn } : { outcome: 'ok', error: undefined, bytesIn, body: text };
      return { outcome: 'failure', error: `HTTP ${status}`, bytesIn };
    } catch (error) {
      return classifyHttpError(error);
    }
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
    const all: Dispatcher[] = this.pool ? [this.pool] : [];
    for (const client of this.clients) if (client) all.push(client);
    return all;
  }
}
