import { randomBytes } from 'node:crypto';
import type { IncomingHttpHeaders } from 'node:http';

/**
 * A JWT-style market API, as the Locust market-API write-up tests: log in for an access and a
 * refresh token, list products and comments, fetch products by id, refresh the access token. Every
 * product route wants `Authorization: Bearer <access>` with a token this server issued.
 */
export interface MarketAnswer {
  readonly status: number;
  readonly body: unknown;
}

export interface MarketRoute {
  /** The counting key, with ids folded: `GET /api/v1/products/{id}/`. */
  readonly route: string;
  answer(body: unknown, headers: IncomingHttpHeaders): MarketAnswer;
}

const PREFIX = '/api/v1';
const PRODUCT_COUNT = 100;
/** Tokens kept before the oldest are forgotten, so a long run cannot grow the fixture without bound. */
const MAX_TOKENS = 200_000;

export interface MarketApiOptions {
  /**
   * How long an access token is accepted, in ms (0: for ever). With a lifetime, access tokens are
   * JWTs whose `exp` claim says when they expire, and the token answers carry `expires_in` (seconds),
   * so clients can renew them in time; refresh tokens do not expire.
   */
  readonly tokenTtlMs?: number;
}

const base64url = (value: unknown): string => Buffer.from(JSON.stringify(value)).toString('base64url');
const JWT_HEADER = base64url({ alg: 'HS256', typ: 'JWT' });

class TokenSet {
  /** Token to the clock ms it expires at (Infinity: never). */
  private readonly tokens = new Map<string, number>();
  constructor(
    private readonly kind: string,
    private readonly ttlMs: number,
  ) {}

  issue(): string {
    if (this.tokens.size >= MAX_TOKENS) {
      const oldest = this.tokens.keys().next().value;
      if (oldest !== undefined) this.tokens.delete(oldest);
    }
    const id = randomBytes(18).toString('base64url');
    const expiresAt = this.ttlMs > 0 ? Date.now() + this.ttlMs : Infinity;
    // `exp` is in whole seconds, rounded down: a client that trusts it renews early, never late.
    // Always a JWT (as the API it stands in for issues), with `exp` only when tokens expire.
    const claims = this.ttlMs > 0 ? { typ: this.kind, jti: id, exp: Math.floor(expiresAt / 1000) } : { typ: this.kind, jti: id };
    const value = `${JWT_HEADER}.${base64url(claims)}.${randomBytes(16).toString('base64url')}`;
    this.tokens.set(value, expiresAt);
    return value;
  }

  values(): IterableIterator<string> {
    return this.tokens.keys();
  }

  has(value: unknown): boolean {
    if (typeof value !== 'string') return false;
    const expiresAt = this.tokens.get(value);
    return expiresAt !== undefined && Date.now() < expiresAt;
  }
}

const isFilled = (value: unknown): boolean => typeof value === 'string' && value.length > 0;

export class MarketApi {
  private readonly access: TokenSet;
  private readonly refresh = new TokenSet('refresh', 0);
  private readonly ttlMs: number;

  constructor(options: MarketApiOptions = {}) {
    this.ttlMs = options.tokenTtlMs ?? 0;
    this.access = new TokenSet('access', this.ttlMs);
  }

  /** Every token still remembered, so a test can look for them where they must not be. */
  issuedTokens(): string[] {
    return [...this.access.values(), ...this.refresh.values()];
  }

  /** The route for a request, or undefined when it is not a market API path. */
  routeFor(method: string, pathname: string): MarketRoute | undefined {
    if (!pathname.startsWith(`${PREFIX}/`)) return undefined;
    const rest = pathname.slice(PREFIX.length);
    if (method === 'POST' && rest === '/auth/token/') return { route: `POST ${pathname}`, answer: (body) => this.login(body) };
    if (method === 'POST' && rest === '/auth/token/refresh/') return { route: `POST ${pathname}`, answer: (body, headers) => this.authorized(headers, () => this.renew(body)) };
    if (method !== 'GET') return undefined;
    if (rest === '/products/') {
      return { route: `GET ${pathname}`, answer: (_body, headers) => this.authorized(headers, () => ({ status: 200, body: { results: [1, 2, 3].map(product) } })) };
    }
    if (rest === '/products/comments/') {
      return { route: `GET ${pathname}`, answer: (_body, headers) => this.authorized(headers, () => ({ status: 200, body: { results: [{ id: 1, product: 1, text: 'works' }] } })) };
    }
    const match = /^\/products\/(\d+)\/$/.exec(rest);
    if (!match) return undefined;
    const id = Number(match[1]);
    return {
      route: `GET ${PREFIX}/products/{id}/`,
      answer: (_body, headers) => this.authorized(headers, () => (id >= 1 && id <= PRODUCT_COUNT ? { status: 200, body: product(id) } : { status: 404, body: { detail: 'Not found.' } })),
    };
  }

  private login(body: unknown): MarketAnswer {
    const credentials = (body ?? {}) as { email?: unknown; password?: unknown };
    if (!isFilled(credentials.email) || !isFilled(credentials.password)) return { status: 400, body: { errors: 'email and password are required' } };
    return this.tokens();
  }

  private tokens(): MarketAnswer {
    const body = { access: this.access.issue(), refresh: this.refresh.issue() };
    return { status: 200, body: this.ttlMs > 0 ? { ...body, expires_in: this.ttlMs / 1000 } : body };
  }

  private renew(body: unknown): MarketAnswer {
    const refresh = (body as { refresh?: unknown } | undefined)?.refresh;
    if (!this.refresh.has(refresh)) return { status: 401, body: { detail: 'Token is invalid or expired' } };
    // A rotated refresh token comes back too; the old one stays valid, as without a blacklist.
    return this.tokens();
  }

  private authorized(headers: IncomingHttpHeaders, answer: () => MarketAnswer): MarketAnswer {
    const header = headers.authorization ?? '';
    if (!header.startsWith('Bearer ') || !this.access.has(header.slice(7))) return { status: 401, body: { detail: 'Authentication credentials were not provided or are invalid.' } };
    return answer();
  }
}

function product(id: number): { id: number; name: string; price: number } {
  return { id, name: `product ${id}`, price: (id * 7) % 100 };
}
