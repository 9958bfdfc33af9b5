import { createServer } from 'node:http';
import type { IncomingMessage, Server, ServerResponse } from 'node:http';
import { MarketApi } from './market-api.ts';
import type { MarketApiOptions } from './market-api.ts';

/**
 * An HTTP IoT backend with the endpoints of the classic Locust IoT-node write-up: `/greet`, `/data`,
 * `/health`, `/ota`, and the JWT market API under `/api/v1`. It validates what clients send and
 * counts every request per route, so a run's own counts can be checked against the server's.
 */
export interface HttpFixtureOptions extends MarketApiOptions {
  /** Added before every answer, in ms. */
  readonly latencyMs?: number;
  /** Fraction of requests answered 503, from 0 to 1. */
  readonly errorRate?: number;
  /**
   * Serve one request at a time, each taking this many ms, the rest waiting in arrival order: a
   * server of known capacity (1000 / serviceMs requests per second) for capacity searches.
   */
  readonly serviceMs?: number;
}

export interface RouteCount {
  requests: number;
  ok: number;
  invalid: number;
  injectedErrors: number;
}

export type FixtureCounts = Record<string, RouteCount>;

type Validator = (url: URL, body: unknown) => string | undefined;

const isNumber = (value: unknown): boolean => typeof value === 'number' && Number.isFinite(value);

function fieldsAreNumbers(body: unknown, fields: readonly string[]): string | undefined {
  if (body === null || typeof body !== 'object') return 'body must be a JSON object';
  for (const field of fields) if (!isNumber((body as Record<string, unknown>)[field])) return `'${field}' must be a number`;
  return undefined;
}

const needsId: Validator = (url) => (url.searchParams.get('id') ? undefined : "query parameter 'id' is required");

const ROUTES: Readonly<Record<string, Validator>> = {
  'GET /greet': needsId,
  'GET /ota': needsId,
  'POST /data': (_url, body) => fieldsAreNumbers(body, ['temperature', 'humidity']),
  'POST /health': (_url, body) => fieldsAreNumbers(body, ['vbat', 'available_memory', 'n_failed_req']),
  'GET /health': () => undefined,
};

const JSON_HEADERS = { 'content-type': 'application/json' };

export class HttpFixture {
  readonly counts: FixtureCounts = {};
  readonly server: Server;
  private readonly market: MarketApi;
  /** Requests waiting for the one server slot, when `serviceMs` is set. */
  private readonly waiting: (() => void)[] = [];
  private serving = false;

  constructor(private readonly options: HttpFixtureOptions = {}) {
    this.market = new MarketApi(options);
    this.server = createServer((request, response) => this.handle(request, response));
    this.server.keepAliveTimeout = 60_000;
  }

  async listen(port = 0, host = '127.0.0.1'): Promise<string> {
    await new Promise<void>((resolve, reject) => {
      this.server.once('error', reject);
      this.server.listen(port, host, () => resolve());
    });
    const address = this.server.address();
    if (address === null || typeof address === 'string') throw new Error('fixture has no TCP address');
    return `http://${host.includes(':') ? `[${host}]` : host}:${address.port}`;
  }

  /** The market API's access and refresh tokens it still remembers (for tests that check none leaked). */
  issuedTokens(): string[] {
    return this.market.issuedTokens();
  }

  async close(): Promise<void> {
    this.server.closeAllConnections();
    await new Promise<void>((resolve) => this.server.close(() => resolve()));
  }

  private countFor(route: string): RouteCount {
    let count = this.counts[route];
    if (!count) {
      count = { requests: 0, ok: 0, invalid: 0, injectedErrors: 0 };
      this.counts[route] = count;
    }
    return count;
  }

  private handle(request: IncomingMessage, response: ServerResponse): void {
    const chunks: Buffer[] = [];
    request.on('data', (chunk: Buffer) => chunks.push(chunk));
    request.on('end', () => {
      const latency = this.options.latencyMs ?? 0;
      const answer = (): void => this.answer(request, response, chunks);
      if ((this.options.serviceMs ?? 0) > 0) this.enqueue(latency > 0 ? () => setTimeout(answer, latency) : answer);
      else if (latency > 0) setTimeout(answer, latency);
      else answer();
    });
  }

  private enqueue(answer: () => void): void {
    this.waiting.push(answer);
    if (!this.serving) this.serveNext();
  }

  private serveNext(): void {
    const answer = this.waiting.shift();
    this.serving = answer !== undefined;
    if (!answer) return;
    setTimeout(() => {
      answer();
      this.serveNext();
    }, this.options.serviceMs);
  }

  private answer(request: IncomingMessage, response: ServerResponse, chunks: Buffer[]): void {
    const url = new URL(request.url ?? '/', 'http://fixture');
    if (url.pathname === '/__fixture/counts') {
      response.writeHead(200, JSON_HEADERS).end(JSON.stringify(this.counts));
      return;
    }
    const route = `${request.method ?? 'GET'} ${url.pathname}`;
    const validate = ROUTES[route];
    const market = validate ? undefined : this.market.routeFor(request.method ?? 'GET', url.pathname);
    const count = this.countFor(validate ? route : (market?.route ?? 'other'));
    count.requests++;
    if (!validate && !market) {
      response.writeHead(404, JSON_HEADERS).end(JSON.stringify({ error: `no route ${route}` }));
      return;
    }
    if ((this.options.errorRate ?? 0) > 0 && Math.random() < (this.options.errorRate ?? 0)) {
      count.injectedErrors++;
      response.writeHead(503, JSON_HEADERS).end(JSON.stringify({ error: 'injected error' }));
      return;
    }
    let body: unknown;
    if (request.method === 'POST') {
      try {
        body = JSON.parse(Buffer.concat(chunks).toString('utf8'));
      } catch {
        count.invalid++;
        response.writeHead(400, JSON_HEADERS).end(JSON.stringify({ error: 'body is not JSON' }));
        return;
      }
    }
    if (market) {
      const { status, body: answer } = market.answer(body, request.headers);
      if (status >= 200 && status < 300) count.ok++;
      else count.invalid++;
      response.writeHead(status, JSON_HEADERS).end(JSON.stringify(answer));
      return;
    }
    const problem = (validate as Validator)(url, body);
    if (problem) {
      count.invalid++;
      response.writeHead(400, JSON_HEADERS).end(JSON.stringify({ error: problem }));
      return;
    }
    count.ok++;
    response.writeHead(200, JSON_HEADERS).end(route === 'GET /ota' ? '{"update":false}' : '{"ok":true}');
  }
}
