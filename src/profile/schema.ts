import type { Static, TSchema } from '@sinclair/typebox';
import { closest } from '../util/did-you-mean.ts';

/**
 * The load-time check of a profile or device model against its TypeBox declaration. TypeBox
 * schemas are plain JSON Schema objects, so this walks them directly: it stops at the first
 * problem in document order and words it for a person ("unknown field 'durtion': did you mean
 * 'duration'?", "must be at most 1000000, got 5000000"), with the path the caller turns into
 * file:line:column. It reads the subset of keywords the declarations use.
 */
export interface JsonSchema {
  readonly title?: string;
  readonly description?: string;
  readonly type?: string | readonly string[];
  readonly properties?: Readonly<Record<string, JsonSchema>>;
  /** TypeBox's `Type.Record(Type.String(), X)`: every key, its value checked against X. */
  readonly patternProperties?: Readonly<Record<string, JsonSchema>>;
  readonly required?: readonly string[];
  readonly additionalProperties?: boolean | JsonSchema;
  readonly items?: JsonSchema;
  readonly minItems?: number;
  readonly enum?: readonly (string | number)[];
  readonly pattern?: string;
  readonly minimum?: number;
  readonly exclusiveMinimum?: number;
  readonly maximum?: number;
}

export interface SchemaViolation {
  readonly path: readonly (string | number)[];
  readonly message: string;
  /** Set when the violation is about a key that should not be there, so the key itself is pointed at. */
  readonly atKey?: boolean;
}

function typeOf(value: unknown): string {
  if (value === null) return 'null';
  if (Array.isArray(value)) return 'array';
  if (typeof value === 'number' && Number.isInteger(value)) return 'integer';
  return typeof value;
}

/** "an array", "an integer", "a string", "a string or integer", "null". */
function withArticle(type: string): string {
  if (type === 'null' || type === 'undefined') return type;
  return `${/^[aeiou]/.test(type) ? 'an' : 'a'} ${type}`;
}

function matchesType(value: unknown, type: string | readonly string[]): boolean {
  const actual = typeOf(value);
  const accepted = typeof type === 'string' ? [type] : type;
  return accepted.some((t) => t === actual || (t === 'number' && actual === 'integer'));
}

/** Returns the first violation found, depth first in document order, or undefined. */
export function validateAgainst(schema: JsonSchema, value: unknown, path: (string | number)[] = []): SchemaViolation | undefined {
  if (schema.type && !matchesType(value, schema.type)) {
    const expected = typeof schema.type === 'string' ? schema.type : schema.type.join(' or ');
    return { path, message: `must be ${withArticle(expected)}, got ${withArticle(typeOf(value))}` };
  }
  if (schema.enum && !schema.enum.some((allowed) => allowed === value)) {
    return { path, message: `must be one of ${schema.enum.map((e) => JSON.stringify(e)).join(', ')}, got ${JSON.stringify(value)}` };
  }
  if (typeof value === 'string' && schema.pattern && !new RegExp(schema.pattern).test(value)) {
    return { path, message: `${JSON.stringify(value)} does not match the expected form${schema.description ? ` (${schema.description})` : ` ${schema.pattern}`}` };
  }
  if (typeof value === 'number') {
    // Past the bounds a value's own limits matter (a seed's exactness): the description says them.
    const textOrInteger = Array.isArray(schema.type) && schema.type.includes('string') && schema.type.includes('integer');
    const why = schema.description && textOrInteger ? ` (${schema.description})` : '';
    if (schema.minimum !== undefined && value < schema.minimum) return { path, message: `must be at least ${schema.minimum}, got ${value}${why}` };
    if (schema.exclusiveMinimum !== undefined && value <= schema.exclusiveMinimum) return { path, message: `must be greater than ${schema.exclusiveMinimum}, got ${value}` };
    if (schema.maximum !== undefined && value > schema.maximum) return { path, message: `must be at most ${schema.maximum}, got ${value}${why}` };
  }
  if (Array.isArray(value)) {
    if (schema.minItems !== undefined && value.length < schema.minItems) return { path, message: `needs at least ${schema.minItems} item${schema.minItems === 1 ? '' : 's'}` };
    if (schema.items) {
      for (let i = 0; i < value.length; i++) {
        const found = validateAgainst(schema.items, value[i], [...path, i]);
        if (found) return found;
      }
    }
  } else if (value !== null && typeof value === 'object') {
    const properties = schema.properties ?? {};
    const patterns = Object.entries(schema.patternProperties ?? {}).map(([pattern, itemSchema]) => [new RegExp(pattern, 'u'), itemSchema] as const);
    for (const [key, item] of Object.entries(value)) {
      // Own keys only: `constructor` or `__proto__` must not find Object.prototype's members.
      const propertySchema = (Object.hasOwn(properties, key) ? properties[key] : undefined) ?? patterns.find(([pattern]) => pattern.test(key))?.[1];
      if (propertySchema) {
        const found = validateAgainst(propertySchema, item, [...path, key]);
        if (found) return found;
      } else if (schema.additionalProperties === false) {
        const known = Object.keys(properties);
        const guess = closest(key, known);
        return {
          path: [...path, key],
          atKey: true,
          message: guess ? `unknown field '${key}': did you mean '${guess}'?` : `unknown field '${key}'${known.length ? ` (expected one of: ${known.join(', ')})` : ''}`,
        };
      } else if (typeof schema.additionalProperties === 'object') {
        const found = validateAgainst(schema.additionalProperties, item, [...path, key]);
        if (found) return found;
      }
    }
    for (const key of schema.required ?? []) {
      if (!Object.hasOwn(value, key)) return { path, message: `missing required field '${key}'` };
    }
  }
  return undefined;
}

/** The document, checked: the type the declaration promises, or the first problem as an exception. */
export function checkDocument<T extends TSchema>(schema: T, value: unknown, fail: (violation: SchemaViolation) => Error): Static<T> {
  const violation = validateAgainst(schema, value);
  if (violation) throw fail(violation);
  // The walk above has just checked every field of it against `schema`: it is a Static<T>.
  return value;
}
