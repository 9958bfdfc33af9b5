import type { TemplateContext } from '../context.ts';

interface Cached {
  value: string;
  renewAtMs: number;
}

/**
 * One call site's tokens, per device: a device signs once and reuses its token until half its
 * lifetime has passed, as a real client does (an RS256 signature costs about a millisecond).
 */
export class TokenCache {
  private readonly tokens = new WeakMap<TemplateContext, Cached>();

  constructor(private readonly lifetimeMs: number) {}

  /** The device's token if still fresh, else undefined; `store` after making a new one. */
  fresh(context: TemplateContext, nowMs: number): string | undefined {
    const cached = this.tokens.get(context);
    return cached !== undefined && nowMs < cached.renewAtMs ? cached.value : undefined;
  }

  store(context: TemplateContext, value: string, nowMs: number): void {
    const cached = this.tokens.get(context);
    const renewAtMs = nowMs + this.lifetimeMs / 2;
    if (cached) {
      cached.value = value;
      cached.renewAtMs = renewAtMs;
    } else {
      this.tokens.set(context, { value, renewAtMs });
    }
  }
}
