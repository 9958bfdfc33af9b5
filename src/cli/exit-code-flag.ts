import { UsageError } from '../errors.ts';
import { last } from '../run/overrides.ts';
import type { FlagValue } from '../run/overrides.ts';

/** `--exit-code-on-error N` (Locust's flag): 0 to 255. */
export function exitCodeFlag(value: FlagValue): number | undefined {
  const text = last(value);
  if (text === undefined) return undefined;
  const code = /^\s*\d+\s*$/.test(text) ? Number(text) : Number.NaN;
  if (!Number.isInteger(code) || code < 0 || code > 255) throw new UsageError(`--exit-code-on-error: expected an exit code from 0 to 255, got '${text}'`);
  return code;
}
