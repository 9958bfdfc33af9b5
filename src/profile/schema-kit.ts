import { Type } from '@sinclair/typebox';
import type { SchemaOptions, TUnsafe } from '@sinclair/typebox';
import { DURATION_PATTERN, MAX_DURATION_MS } from './duration.ts';

/**
 * Builders for the few JSON Schema shapes TypeBox has no single builder for. Each emits the plain
 * keyword (`enum`, a `type` list) so the published schema reads as before and the checker in
 * schema.ts words its messages from it ("must be one of ...", "must be a string or number").
 */

type JsonType = 'string' | 'number' | 'integer' | 'boolean' | 'object' | 'array';

/** How the checker and the published schema name a value's type. */
function typeName(value: string | number): JsonType {
  if (typeof value === 'string') return 'string';
  return Number.isInteger(value) ? 'integer' : 'number';
}

/**
 * One of fixed values, as JSON Schema `enum` (TypeBox's documented way to emit the keyword, in
 * place of a union of literals' `anyOf`); the static type is the union of the values.
 */
export function oneOf<const T extends readonly (string | number)[]>(values: T, options: SchemaOptions & { readonly type?: JsonType | readonly JsonType[] } = {}): TUnsafe<T[number]> {
  const types = [...new Set(values.map(typeName))];
  return Type.Unsafe<T[number]>({ type: types.length === 1 ? types[0] : types, enum: values, ...options });
}

/** A value written either as text or as a number (a duration, a rate, a share). */
export function textOrNumber(options: SchemaOptions = {}): TUnsafe<string | number> {
  return Type.Unsafe<string | number>({ type: ['string', 'number'], ...options });
}

/** A duration: seconds as a number, or text such as 500ms, 5s, 1m30s; at most what a Node timer holds. */
export function duration(description = 'A duration: seconds as a number, or a string such as 500ms, 5s, 2m, 1h, 2d, 1m30s.'): TUnsafe<string | number> {
  return textOrNumber({ pattern: DURATION_PATTERN, minimum: 0, maximum: MAX_DURATION_MS / 1000, description });
}
