import type { TemplateContext } from '../context.ts';

/**
 * A device keeps the last secrets it derived, so the request log can still redact an attempt that
 * finishes after later ones were sent: a burst of 512 publishes each with its own HMAC is covered.
 * Bounded, since nothing evicts them when no log is written; tokens cached per connection use one.
 */
const KEPT_PER_DEVICE = 512;

const byDevice = new WeakMap<TemplateContext, Map<string, string>>();

/**
 * Records a secret a template derived (a SAS token, a JWT, an HMAC), with the call that made it, so
 * the request log can show the call instead of the value, as it shows `{{ env.NAME }}`.
 */
export function noteDerivedSecret(context: TemplateContext, value: string, call: string): void {
  let secrets = byDevice.get(context);
  if (!secrets) {
    secrets = new Map();
    byDevice.set(context, secrets);
  }
  if (secrets.has(value)) return;
  if (secrets.size >= KEPT_PER_DEVICE) secrets.delete(secrets.keys().next().value as string);
  secrets.set(value, `{{ ${call} }}`);
}

/** The secrets `context` derived lately, each with its placeholder. */
export function derivedSecrets(context: TemplateContext): ReadonlyMap<string, string> | undefined {
  return byDevice.get(context);
}
