import { compileTemplate, TemplateError } from '../template/compile.ts';
import type { CompiledTemplate } from '../template/compile.ts';
import type { SlotAllocator } from '../template/functions.ts';
import { MAX_DURATION_MS, MAX_DURATION_TEXT, parseDurationMs } from './duration.ts';
import { validateAgainst } from './schema.ts';
import type { FieldPath, YamlSource } from './yaml-source.ts';

type Json = Record<string, unknown>;

/**
 * Readers shared by profile and device-model loading: each turns a field's raw value into what the
 * run uses, or throws the source's error naming the file, the line and the field.
 */

export function checkedData(source: YamlSource, schema: Parameters<typeof validateAgainst>[0]): Json {
  const violation = validateAgainst(schema, source.data);
  if (violation) throw source.error(violation.path, violation.message, { atKey: violation.atKey ?? false });
  return source.data as Json;
}

export function durationAt(source: YamlSource, fieldPath: FieldPath, value: unknown, fallback: number): number;
export function durationAt(source: YamlSource, fieldPath: FieldPath, value: unknown, fallback?: undefined): number | undefined;
export function durationAt(source: YamlSource, fieldPath: FieldPath, value: unknown, fallback?: number): number | undefined {
  if (value === undefined) return fallback;
  const ms = parseDurationMs(value as string | number);
  if (ms === undefined) throw source.error(fieldPath, `${JSON.stringify(value)} is not a duration (e.g. 500ms, 5s, 2m)`);
  if (ms > MAX_DURATION_MS) throw source.error(fieldPath, `${JSON.stringify(value)} is too long: at most ${MAX_DURATION_TEXT}`);
  return ms;
}

/** Environment values read while compiling, shared by every model of a run so outputs can redact them. */
export class EnvironmentReader {
  readonly used = new Map<string, string>();
  constructor(private readonly env: NodeJS.ProcessEnv = process.env) {}

  read(name: string): string {
    if (!/^[A-Za-z_][A-Za-z0-9_]*$/.test(name)) throw new Error(`'${name}' is not an environment variable name`);
    // Own variables only: `env.toString` must be unset, not Object.prototype's function.
    const value = Object.hasOwn(this.env, name) ? this.env[name] : undefined;
    if (value === undefined) throw new Error(`environment variable ${name} is not set`);
    this.used.set(name, value);
    return value;
  }
}

export function templateAt(source: YamlSource, fieldPath: FieldPath, text: string, scope: SlotAllocator): CompiledTemplate {
  try {
    return compileTemplate(text, scope);
  } catch (error) {
    if (error instanceof TemplateError) throw source.error(fieldPath, `template error: ${error.message}`, { offsetInValue: error.offset });
    throw error;
  }
}
