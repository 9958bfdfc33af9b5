import type { RunPlan } from '../../profile/types.ts';
import type { VirtualDevice } from './device.ts';
import { derivedSecrets } from '../../template/credentials/derived-secrets.ts';
import { encodePathChars } from './request-path.ts';

/** Captured strings at least this long are treated as tokens in the request log. */
const MIN_REDACTED_CAPTURE = 8;
/** A secret this long or longer is also looked for in the hex of binary bodies. */
const MIN_HEX_REDACTED = 4;

/** A value as it can appear in what was sent: as is, escaped inside a JSON string, encoded in a path, in a binary body's hex. */
function sentForms(value: string): string[] {
  // The hex form only for values long enough that their digits cannot be mistaken for others'.
  const hex = value.length >= MIN_HEX_REDACTED ? [Buffer.from(value).toString('hex')] : [];
  return [...new Set([value, JSON.stringify(value).slice(1, -1), encodePathChars(value), ...hex])].filter((form) => form.length > 0);
}

/** Puts `{{ now() }}` and `{{ nowMs() }}` back where their values were rendered. */
function redactTime(text: string, timeMs: number): string {
  let out = text;
  for (const form of sentForms(new Date(timeMs).toISOString())) if (out.includes(form)) out = out.replaceAll(form, '{{ now() }}');
  const ms = String(timeMs);
  return out.includes(ms) ? out.replaceAll(ms, '{{ nowMs() }}') : out;
}

/**
 * Secrets stay out of the request log: environment values, data columns named secret, secrets a
 * template derived (SAS tokens, JWTs, HMACs), and captured strings long enough to be tokens or
 * session ids, appear as the reference that produced them. That also keeps logs of runs against a server that issues fresh tokens identical. The wall-clock time
 * an attempt rendered (`now()`, `nowMs()`) is the one unseeded value: it goes back to its call for
 * the same reason. Used only while a request log listens.
 */
export class RequestLogRedactor {
  /** Every form of every environment secret, longest first, with the reference that replaces it. */
  private readonly secretForms: readonly (readonly [string, string])[];

  constructor(
    private readonly plan: RunPlan,
    private readonly layout: Uint16Array,
  ) {
    this.secretForms = plan.secrets.flatMap((secret) => sentForms(secret.value).map((form) => [form, `{{ env.${secret.name} }}`] as const)).sort((a, b) => b[0].length - a[0].length);
  }

  redact(text: string, device: VirtualDevice, timeMs: number): string {
    let out = text;
    // First, as a whole: tokens and signatures a template derived (azureSas, jwt, hmacSha256) show as the call that made them.
    const derived = derivedSecrets(device);
    if (derived) {
      for (const [value, placeholder] of derived) for (const form of sentForms(value)) if (out.includes(form)) out = out.replaceAll(form, placeholder);
    }
    if (timeMs > 0) out = redactTime(out, timeMs);
    for (const [form, placeholder] of this.secretForms) if (out.includes(form)) out = out.replaceAll(form, placeholder);
    const secretSlots = this.plan.fleet[this.layout[device.deviceIndex] ?? 0]?.data?.secretSlots;
    if (secretSlots) {
      for (const slot of secretSlots) {
        const value = device.data[slot];
        if (!value) continue;
        for (const form of sentForms(value)) if (out.includes(form)) out = out.replaceAll(form, `{{ data.${device.bound.model.dataColumns[slot] ?? slot} }}`);
      }
    }
    const vars = device.vars;
    for (let i = 0; i < vars.length; i++) {
      const value = vars[i];
      if (typeof value !== 'string' || value.length < MIN_REDACTED_CAPTURE) continue;
      for (const form of sentForms(value)) if (out.includes(form)) out = out.replaceAll(form, `{{ vars.${device.bound.model.variables[i] ?? i} }}`);
    }
    return out;
  }
}
