import { compileTemplate, TemplateError } from '../template/compile.ts';
import type { CompiledTemplate } from '../template/compile.ts';
import type { SlotAllocator } from '../template/functions.ts';
import { MAX_DURATION_MS, MAX_DURATION_TEXT, parseDurationMs } from './duration.ts';
import type { Static, TSchema } from '@sinclair/typebox';
import { checkDocument } from './schema.ts';
import type { FieldPath, YamlSource } from './yaml-source.ts';

/**
 * Readers shared by profile and device-model loading: each turns a field's raw value into what the
 * run uses, or throws the source's error naming the file, the line and the field.
 */

/** The file's document as its declaration's type, or the first field that breaks it as the source's error. */
export function checkedData<T extends TSchema>(source: YamlSource, schema: T): Static<T> {
  return checkDocument(schema, source.data, (violation) => source.error(violation.path, violation.message, { atKey: violation.atKey ?? false }));
}

type DurationText = string | number | undefined;

export function durationAt(source: YamlSource, fieldPath: FieldPath, value: DurationText, fallback: number): number;
export function durationAt(source: YamlSource, fieldPath: FieldPath, value: DurationText, fallback?: undefined): number | undefined;
export function durationAt(source: YamlSource, fieldPath: FieldPath, value: DurationText, fallback?: number): number | undefined {
  if (value === undefined) return fallback;
  const ms = parseDurationMs(value);
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
