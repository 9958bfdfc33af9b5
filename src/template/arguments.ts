import type { CompiledValue, TemplateContext } from './context.ts';
import type { Argument, Literal } from './function-spec.ts';

/** Argument `i` as a literal; fields and calls are refused where the value shapes the compiled function. */
export function literalArg(args: readonly Argument[], i: number): Literal | undefined {
  const arg = args[i];
  if (arg === undefined) return undefined;
  if (arg.literal === undefined) throw new TypeError(`argument ${i + 1} must be a literal (a number, quoted string, true or false), not ${arg.source}`);
  return arg.literal;
}

export function numberArg(args: readonly Argument[], i: number, fallback?: number): number {
  const value = literalArg(args, i);
  if (value === undefined && fallback !== undefined) return fallback;
  if (typeof value !== 'number') throw new TypeError(`argument ${i + 1} must be a number`);
  return value;
}

export function stringArg(args: readonly Argument[], i: number, fallback?: string): string {
  const value = literalArg(args, i);
  if (value === undefined && fallback !== undefined) return fallback;
  if (typeof value !== 'string') throw new TypeError(`argument ${i + 1} must be a quoted string`);
  return value;
}

const DURATION = /^\s*(\d+(?:\.\d+)?)\s*(ms|s|m|h|d)?\s*$/u;
const UNIT_SECONDS: Readonly<Record<string, number>> = { ms: 0.001, s: 1, m: 60, h: 3600, d: 86_400 };

/** A duration argument, '10s' or '24h' (or a number of seconds), in seconds. */
export function secondsArg(args: readonly Argument[], i: number, fallback?: number): number {
  const value = literalArg(args, i);
  if (value === undefined && fallback !== undefined) return fallback;
  if (typeof value === 'number') return value;
  if (typeof value !== 'string') throw new TypeError(`argument ${i + 1} must be a duration such as '10s' or '24h'`);
  const match = DURATION.exec(value);
  if (!match) throw new TypeError(`argument ${i + 1} ('${value}') is not a duration such as '10s', '15m', '24h' or '365d'`);
  return Number(match[1]) * (UNIT_SECONDS[match[2] ?? 's'] ?? 1);
}

/** Argument `i` as a per-message value (a literal is a constant). */
export function valueArg(args: readonly Argument[], i: number): CompiledValue {
  const arg = args[i];
  if (arg === undefined) throw new TypeError(`argument ${i + 1} is missing`);
  return arg.evaluate;
}

/** A numeric argument that may be a field or a nested call (`mean` of a cycle can be another cycle). */
export function numericValueArg(args: readonly Argument[], i: number): (context: TemplateContext) => number {
  const arg = args[i];
  if (arg === undefined) throw new TypeError(`argument ${i + 1} is missing`);
  if (arg.literal !== undefined) {
    if (typeof arg.literal !== 'number') throw new TypeError(`argument ${i + 1} must be a number`);
    const value = arg.literal;
    return () => value;
  }
  const evaluate = arg.evaluate;
  return (context) => Number(evaluate(context));
}

export function checkRange(min: number, max: number): void {
  if (!(min <= max)) throw new TypeError(`min (${min}) must not exceed max (${max})`);
}

export function checkDecimals(decimals: number): void {
  if (!Number.isInteger(decimals) || decimals < 0 || decimals > 12) throw new TypeError('decimals must be an integer from 0 to 12');
}

/** `factor` is 10 ** decimals, computed once when the template is compiled. */
export function roundTo(value: number, factor: number): number {
  return Math.round(value * factor) / factor;
}
