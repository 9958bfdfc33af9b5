import type { StatsEntry } from '../../metrics/stats.ts';
import { followPath } from '../../profile/capture-path.ts';
import type { AuthSpec, StepSpec } from '../../profile/types.ts';
import type { TemplateValue } from '../../template/context.ts';
import type { AttemptResult } from '../../transport/types.ts';
import type { BoundStep } from './bound-model.ts';

/** What a step does for the token lifecycle: nothing, log in, or renew the credentials. */
export const AuthRole = { None: 0, Login: 1, Refresh: 2 } as const;
export type AuthRole = (typeof AuthRole)[keyof typeof AuthRole];

const UNAUTHORIZED = 'HTTP 401';
const MIN_RENEW_AHEAD_MS = 1000;

/** A model's lifecycle with its steps bound; the rows of retries after a re-login are made on first use. */
export class BoundAuth {
  readonly login: BoundStep;
  readonly refresh: BoundStep | undefined;
  private readonly retries = new Map<StepSpec, BoundStep>();

  constructor(
    readonly spec: AuthSpec,
    bindStep: (spec: StepSpec) => BoundStep,
    private readonly entryFor: (type: string, name: string) => StatsEntry,
  ) {
    this.login = bindStep(spec.login);
    this.refresh = spec.refresh && bindStep(spec.refresh);
  }

  /** The step again, counted in its own row so the first 401 stays visible in the step's row. */
  retryOf(step: BoundStep): BoundStep {
    let retry = this.retries.get(step.spec);
    if (!retry) {
      retry = { spec: step.spec, stats: this.entryFor(step.stats.type, `${step.spec.name} (re-auth)`), role: step.role, extras: step.extras };
      this.retries.set(step.spec, retry);
    }
    return retry;
  }
}

const State = { Idle: 0, Renewing: 1, Relogin: 2, Retrying: 3 } as const;
type State = (typeof State)[keyof typeof State];

/**
 * The `exp` claim (epoch seconds) of a JWT, or what was found instead, in words that never quote
 * the value (it is a credential).
 */
export function readJwtExpiry(token: TemplateValue | undefined): { exp: number | undefined } | { found: string } {
  if (typeof token !== 'string') return { found: `a ${token === undefined ? 'missing value' : typeof token}, not a string` };
  const parts = token.split('.');
  if (parts.length !== 3) return { found: `${parts.length} dot-separated part${parts.length === 1 ? '' : 's'} in ${token.length} characters, where a JWT has three (header.payload.signature)` };
  let claims: unknown;
  try {
    claims = JSON.parse(Buffer.from(parts[1] ?? '', 'base64url').toString('utf8'));
  } catch {
    return { found: 'three parts, but the second (the payload) is not base64url-encoded JSON' };
  }
  if (claims === null || typeof claims !== 'object' || Array.isArray(claims)) return { found: 'three parts, but the payload is not a JSON object' };
  const exp = (claims as { exp?: unknown }).exp;
  // No exp: a token that does not expire, which is valid (RFC 7519 makes the claim optional).
  if (exp === undefined) return { exp: undefined };
  if (typeof exp !== 'number' || !Number.isFinite(exp)) return { found: `a JWT whose exp claim is ${typeof exp === 'number' ? String(exp) : `a ${typeof exp}`}, not a number of seconds` };
  return { exp };
}

/** The `exp` claim (epoch seconds) of a JWT, or undefined when the value is not one. */
export function jwtExpiry(token: TemplateValue | undefined): number | undefined {
  const read = readJwtExpiry(token);
  return 'exp' in read ? read.exp : undefined;
}

/** Seconds of lifetime at `path` in a JSON response body, or undefined. */
function lifetimeInResponse(body: string | undefined, path: readonly (string | number)[]): number | undefined {
  try {
    const seconds = Number(followPath(JSON.parse(body ?? ''), path));
    return Number.isFinite(seconds) && seconds > 0 ? seconds * 1000 : undefined;
  } catch {
    return undefined;
  }
}

/**
 * One device's credentials over time. Before an HTTP attempt it may put a renewal first (a refresh
 * while the credentials still hold, a login once they have expired); after an attempt answered 401
 * it logs in again once and then retries that request once. The 401 is recorded like any failure
 * before any of this starts, so nothing hides it. Times are the engine's clock (ms).
 */
export class AuthLifecycle {
  private state: State = State.Idle;
  /** The step a renewal went before, or the one that got the 401. */
  private held: BoundStep | undefined;
  private expiresAt = Infinity;
  private renewAt = Infinity;

  constructor(
    private readonly auth: BoundAuth,
    /** A declaration the credentials contradict (`jwt:` on a token that is not one): the run cannot go on as declared. */
    private readonly misdeclared: (message: string) => void = () => undefined,
  ) {}

  /** A renewal to send before `step`, or undefined to send `step` itself. */
  before(step: BoundStep, now: number): BoundStep | undefined {
    if (this.state !== State.Idle || step.role !== AuthRole.None || now < this.renewAt) return undefined;
    this.state = State.Renewing;
    this.held = step;
    return now < this.expiresAt && this.auth.refresh ? this.auth.refresh : this.auth.login;
  }

  /**
   * After an HTTP attempt of `step` ended (its captures applied to `vars`): the step to send next,
   * or undefined to go on with the task. `startedAt` is when the attempt was sent.
   */
  after(step: BoundStep, result: AttemptResult, startedAt: number, now: number, vars: readonly TemplateValue[]): BoundStep | undefined {
    if (step.role !== AuthRole.None && result.outcome === 'ok') this.renewed(result.body, startedAt, now, vars);
    const held = this.held;
    switch (this.state) {
      case State.Renewing:
        // A renewal that failed is not tried before every request: the next 401 logs in again.
        if (result.outcome !== 'ok') this.renewAt = Infinity;
        return this.settle(held);
      case State.Relogin:
        if (result.outcome !== 'ok' || !held) return this.settle(undefined);
        this.state = State.Retrying;
        return this.auth.retryOf(held);
      case State.Retrying:
        return this.settle(undefined);
      default:
        if (result.error !== UNAUTHORIZED || step.role === AuthRole.Login) return undefined;
        this.state = State.Relogin;
        this.held = step;
        return this.auth.login;
    }
  }

  private settle(next: BoundStep | undefined): BoundStep | undefined {
    this.state = State.Idle;
    this.held = undefined;
    return next;
  }

  /** New credentials: work out when they expire and when to renew them. */
  private renewed(body: string | undefined, startedAt: number, now: number, vars: readonly TemplateValue[]): void {
    const expiry = this.auth.spec.expiry;
    if (!expiry) return;
    let expiresAt: number | undefined;
    let from = startedAt;
    if (expiry.kind === 'fixed') expiresAt = startedAt + expiry.ms;
    else if (expiry.kind === 'response') {
      // Counted from when the request left: the server's clock started no earlier.
      const lifetime = lifetimeInResponse(body, expiry.path);
      if (lifetime !== undefined) expiresAt = startedAt + lifetime;
    } else {
      const read = readJwtExpiry(vars[expiry.slot]);
      from = now;
      if ('exp' in read) {
        if (read.exp !== undefined) expiresAt = now + (read.exp * 1000 - Date.now());
      } else {
        // Renewing never (the expiry unknown) would hide the mistake until tokens ran out mid-run.
        const login = this.auth.login.spec.name;
        this.misdeclared(
          `${expiry.where}: auth.jwt: '${expiry.variable}', captured by '${login}', is not a JWT: found ${read.found}. For a token that is not a JWT, give its lifetime with ttl (e.g. 10m) or expiresIn ($.expires_in).`,
        );
      }
    }
    if (expiresAt === undefined) {
      this.expiresAt = this.renewAt = Infinity;
      return;
    }
    const lifetime = Math.max(0, expiresAt - from);
    const ahead = Math.min(this.auth.spec.refreshBeforeMs ?? Math.max(MIN_RENEW_AHEAD_MS, lifetime / 5), lifetime / 2);
    this.expiresAt = expiresAt;
    this.renewAt = expiresAt - ahead;
  }
}
