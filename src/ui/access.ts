import { randomBytes, timingSafeEqual } from 'node:crypto';
import type { IncomingMessage } from 'node:http';
import { isIP } from 'node:net';

/** Who may use the UI: anyone who reaches a loopback address, or, off loopback, whoever holds the token. */
export interface UiAccess {
  /** Required on every request when set; always set off loopback. */
  readonly token: string | undefined;
  /** The server listens on loopback only, so the Host header must name loopback too. */
  readonly loopback: boolean;
}

export const TOKEN_HEADER = 'x-fleetsim-token';

/** 127.0.0.0/8, ::1, ::ffff:127.x and `localhost`: addresses no other machine can reach. */
export function isLoopbackHost(host: string): boolean {
  const bare = host.replace(/^\[(.*)\]$/u, '$1').toLowerCase();
  if (bare === 'localhost') return true;
  if (isIP(bare) === 4) return bare.startsWith('127.');
  if (isIP(bare) === 6) return bare === '::1' || bare.startsWith('::ffff:127.');
  return false;
}

/** The token off loopback: the one given, or a fresh random one (then `generated`, so it is printed). */
export function uiAccess(host: string, given: string | undefined): { access: UiAccess; generated: boolean } {
  const loopback = isLoopbackHost(host);
  const token = given === undefined || given === '' ? undefined : given;
  if (token !== undefined || loopback) return { access: { token, loopback }, generated: false };
  return { access: { token: randomBytes(18).toString('base64url'), loopback }, generated: true };
}

export interface Refusal {
  readonly status: number;
  readonly message: string;
}

function sameToken(given: string, expected: string): boolean {
  const a = Buffer.from(given);
  const b = Buffer.from(expected);
  return a.length === b.length && timingSafeEqual(a, b);
}

/** The token as a header (`X-Fleetsim-Token` or `Authorization: Bearer`) or, for links and EventSource, `?token=`. */
function presentedToken(request: IncomingMessage, url: URL): string | undefined {
  const header = request.headers[TOKEN_HEADER];
  if (typeof header === 'string') return header;
  const bearer = /^Bearer\s+(\S+)$/iu.exec(request.headers.authorization ?? '');
  if (bearer) return bearer[1];
  return url.searchParams.get('token') ?? undefined;
}

/** The Host header's name, without its port. */
function hostName(host: string): string {
  const bracketed = /^(\[[^\]]*\])(?::\d+)?$/u.exec(host);
  if (bracketed) return bracketed[1] ?? host;
  return host.replace(/:\d+$/u, '');
}

/**
 * Why a request is refused, or undefined to serve it. On loopback a Host that is not loopback is a
 * DNS-rebinding page reaching in. A request that changes state must be `application/json` (a
 * cross-site form cannot send that without a preflight we never grant) and, when the browser says
 * where it comes from, come from this server's own origin.
 */
export function refusal(request: IncomingMessage, url: URL, access: UiAccess): Refusal | undefined {
  const host = request.headers.host ?? '';
  if (access.loopback && !isLoopbackHost(hostName(host))) return { status: 403, message: `the UI listens on loopback; Host '${host}' is not a loopback name` };
  if (access.token !== undefined) {
    const token = presentedToken(request, url);
    if (token === undefined || !sameToken(token, access.token))
      return { status: 401, message: 'a token is required: open the URL printed at start (with ?token=), or send the X-Fleetsim-Token header' };
  }
  if (request.method === 'GET' || request.method === 'HEAD') return undefined;
  const origin = request.headers.origin;
  if (origin !== undefined && origin !== `http://${host}`) return { status: 403, message: `cross-origin request from ${origin} refused` };
  if (request.headers['sec-fetch-site'] === 'cross-site') return { status: 403, message: 'cross-site request refused' };
  const type = (request.headers['content-type'] ?? '').split(';')[0]?.trim().toLowerCase();
  if (type !== 'application/json') return { status: 415, message: 'state-changing requests must be Content-Type: application/json' };
  return undefined;
}
