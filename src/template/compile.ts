import type { CompiledValue, TemplateContext, TemplateValue } from './context.ts';
import { didYouMean } from '../util/did-you-mean.ts';
import { FleetsimError } from '../errors.ts';
import { TEMPLATE_FIELDS, TEMPLATE_FUNCTIONS } from './functions.ts';
import type { Argument, Literal, SlotAllocator } from './function-spec.ts';

/** A template problem at `offset` characters into the template text. */
export class TemplateError extends FleetsimError {
  readonly offset: number;
  constructor(message: string, offset: number) {
    super('FLEETSIM_TEMPLATE', message);
    this.name = 'TemplateError';
    this.offset = offset;
  }
}

/**
 * A compiled template. `constant` is set when the text has no expression, so callers can
 * pre-encode it; `evaluate` keeps the expression's type when the text is one `{{ }}` alone.
 */
export interface CompiledTemplate {
  readonly source: string;
  readonly constant: TemplateValue | undefined;
  readonly evaluate: CompiledValue;
}

const IDENT = /[A-Za-z_][A-Za-z0-9_]*(?:\.[A-Za-z_][A-Za-z0-9_]*)*/y;
const NUMBER = /-?(?:\d+\.?\d*|\.\d+)(?:[eE][+-]?\d+)?/y;
const SPACE = /\s*/y;

class ExpressionParser {
  private pos: number;
  constructor(
    private readonly text: string,
    start: number,
    private readonly end: number,
  ) {
    this.pos = start;
  }

  parse(slots: SlotAllocator): CompiledValue {
    const expression = this.parseExpression(slots);
    this.expectEnd();
    return expression.evaluate;
  }

  /** A field, an environment value, or a call whose arguments are literals, fields or calls. */
  private parseExpression(slots: SlotAllocator): Argument {
    this.skipSpace();
    const nameStart = this.pos;
    // k6 users write $env.NAME; it is env.NAME.
    if (this.text.startsWith('$env.', this.pos)) this.pos++;
    const name = this.match(IDENT);
    if (name === undefined) throw new TemplateError('expected a field (device.id, device.index, seq, vars.NAME, env.NAME, ...) or a function call', this.pos);
    this.skipSpace();
    if (this.peek() !== '(') return { ...this.field(name, nameStart, slots), source: name };
    const spec = TEMPLATE_FUNCTIONS.get(name);
    if (!spec) throw new TemplateError(`unknown function '${name}'${didYouMean(name, TEMPLATE_FUNCTIONS.keys()) || ` (known: ${[...TEMPLATE_FUNCTIONS.keys()].join(', ')})`}`, nameStart);
    this.pos++;
    const args = this.parseArguments(slots);
    const source = this.text.slice(nameStart, this.pos);
    if (args.length < spec.minArgs || args.length > spec.maxArgs) {
      throw new TemplateError(`${spec.signature} takes ${spec.minArgs === spec.maxArgs ? spec.minArgs : `${spec.minArgs} to ${spec.maxArgs}`} arguments, got ${args.length}`, nameStart);
    }
    try {
      return { literal: undefined, evaluate: spec.build(args, slots, { source }), source };
    } catch (error) {
      throw new TemplateError(`${spec.signature}: ${(error as Error).message}`, nameStart);
    }
  }

  private field(name: string, nameStart: number, slots: SlotAllocator): { literal: Literal | undefined; evaluate: CompiledValue } {
    if (name.startsWith('env.')) {
      const value = this.scoped(() => slots.environment(name.slice(4)), nameStart);
      return { literal: value, evaluate: constantValue(value) };
    }
    if (name.startsWith('data.')) {
      const slot = this.scoped(() => slots.data(name.slice(5)), nameStart);
      return { literal: undefined, evaluate: (context) => context.data[slot] ?? '' };
    }
    if (name.startsWith('vars.')) {
      const slot = this.scoped(() => slots.variable(name.slice(5)), nameStart);
      return { literal: undefined, evaluate: (context) => context.vars[slot] ?? '' };
    }
    const field = TEMPLATE_FIELDS.get(name);
    if (!field)
      throw new TemplateError(
        `unknown field '${name}'${didYouMean(name, TEMPLATE_FIELDS.keys()) || ` (known: ${[...TEMPLATE_FIELDS.keys(), 'vars.NAME', 'env.NAME', 'data.NAME'].join(', ')})`}`,
        nameStart,
      );
    return { literal: undefined, evaluate: field };
  }

  private scoped<T>(resolve: () => T, at: number): T {
    try {
      return resolve();
    } catch (error) {
      throw new TemplateError((error as Error).message, at);
    }
  }

  private parseArguments(slots: SlotAllocator): Argument[] {
    const args: Argument[] = [];
    this.skipSpace();
    if (this.peek() === ')') {
      this.pos++;
      return args;
    }
    for (;;) {
      this.skipSpace();
      args.push(this.parseArgument(slots));
      this.skipSpace();
      const next = this.peek();
      this.pos++;
      if (next === ')') return args;
      if (next !== ',') throw new TemplateError("expected ',' or ')' in the argument list", this.pos - 1);
    }
  }

  private parseArgument(slots: SlotAllocator): Argument {
    const start = this.pos;
    const literal = this.parseLiteral();
    if (literal !== undefined) return { literal, evaluate: () => literal, source: this.text.slice(start, this.pos) };
    return this.parseExpression(slots);
  }

  /** A quoted string, a number, true or false; undefined (and nothing consumed) for anything else. */
  private parseLiteral(): Literal | undefined {
    const quote = this.peek();
    if (quote === "'" || quote === '"') {
      const close = this.text.indexOf(quote, this.pos + 1);
      if (close < 0 || close >= this.end) throw new TemplateError('unterminated string', this.pos);
      const value = this.text.slice(this.pos + 1, close);
      this.pos = close + 1;
      return value;
    }
    const number = this.match(NUMBER);
    if (number !== undefined) return Number(number);
    const wordStart = this.pos;
    const word = this.match(IDENT);
    if (word === 'true') return true;
    if (word === 'false') return false;
    if (word === undefined) throw new TemplateError('arguments are numbers, quoted strings, true, false, fields or function calls', wordStart);
    this.pos = wordStart;
    return undefined;
  }

  private expectEnd(): void {
    this.skipSpace();
    if (this.pos !== this.end) throw new TemplateError(`unexpected '${this.text.slice(this.pos, this.end).trim()}'`, this.pos);
  }

  private peek(): string | undefined {
    return this.pos < this.end ? this.text[this.pos] : undefined;
  }

  private skipSpace(): void {
    SPACE.lastIndex = this.pos;
    SPACE.exec(this.text);
    this.pos = Math.min(SPACE.lastIndex, this.end);
  }

  private match(pattern: RegExp): string | undefined {
    pattern.lastIndex = this.pos;
    const found = pattern.exec(this.text);
    if (!found || pattern.lastIndex > this.end) return undefined;
    this.pos = pattern.lastIndex;
    return found[0];
  }
}

type Part = string | CompiledValue;

function constantValue(value: string): CompiledValue {
  return () => value;
}

function concatenate(parts: readonly Part[]): CompiledValue {
  const count = parts.length;
  return (context: TemplateContext) => {
    let out = '';
    for (let i = 0; i < count; i++) {
      const part = parts[i] as Part;
      out += typeof part === 'string' ? part : String(part(context));
    }
    return out;
  };
}

/** A template with nothing to render: `value` every time. */
export function literalTemplate(value: string, source = value): CompiledTemplate {
  return { source, constant: value, evaluate: () => value };
}

/** Compiles `text` once; `{{ expr }}` segments are fields or seeded function calls, everything else is literal. */
export function compileTemplate(text: string, slots: SlotAllocator): CompiledTemplate {
  const parts: Part[] = [];
  let cursor = 0;
  while (cursor < text.length) {
    const open = text.indexOf('{{', cursor);
    if (open < 0) {
      parts.push(text.slice(cursor));
      break;
    }
    if (open > cursor) parts.push(text.slice(cursor, open));
    const close = text.indexOf('}}', open + 2);
    if (close < 0) throw new TemplateError("'{{' without a closing '}}'", open);
    parts.push(new ExpressionParser(text, open + 2, close).parse(slots));
    cursor = close + 2;
  }
  if (parts.length === 0) return literalTemplate('');
  const only = parts.length === 1 ? parts[0] : undefined;
  if (typeof only === 'string') return literalTemplate(only, text);
  if (only !== undefined) return { source: text, constant: undefined, evaluate: only };
  return { source: text, constant: undefined, evaluate: concatenate(parts) };
}

/** A template value as JSON; numbers skip JSON.stringify, which is several times slower for them. */
function jsonScalar(value: TemplateValue): string {
  if (typeof value === 'number') return Number.isFinite(value) ? String(value) : 'null';
  return typeof value === 'boolean' ? (value ? 'true' : 'false') : JSON.stringify(value);
}

/** A compiled JSON document: literal fragments are serialised once, only template leaves are rendered per request. */
export interface JsonTemplateLeaf {
  readonly text: string;
  /** Where the leaf sits in the document, for error positions. */
  readonly path: readonly (string | number)[];
}

export type JsonBodyRenderer = (context: TemplateContext) => string;

/**
 * Compiles a JSON value whose string leaves may be templates. `compileLeaf` compiles one leaf and
 * may rethrow errors enriched with the leaf's source position.
 */
export function compileJsonBody(value: unknown, compileLeaf: (leaf: JsonTemplateLeaf) => CompiledTemplate): JsonBodyRenderer {
  const parts: Part[] = [];
  let literal = '';
  const flush = (): void => {
    if (literal) parts.push(literal);
    literal = '';
  };
  const visit = (node: unknown, path: (string | number)[]): void => {
    if (typeof node === 'string') {
      const compiled = compileLeaf({ text: node, path });
      if (compiled.constant !== undefined) {
        literal += JSON.stringify(compiled.constant);
      } else {
        flush();
        const evaluate = compiled.evaluate;
        parts.push((context) => jsonScalar(evaluate(context)));
      }
    } else if (Array.isArray(node)) {
      literal += '[';
      node.forEach((item, i) => {
        if (i > 0) literal += ',';
        visit(item, [...path, i]);
      });
      literal += ']';
    } else if (node !== null && typeof node === 'object') {
      literal += '{';
      Object.entries(node).forEach(([key, item], i) => {
        if (i > 0) literal += ',';
        literal += `${JSON.stringify(key)}:`;
        visit(item, [...path, key]);
      });
      literal += '}';
    } else {
      literal += JSON.stringify(node ?? null);
    }
  };
  visit(value, []);
  flush();
  if (parts.length === 1 && typeof parts[0] === 'string') {
    const constant = parts[0];
    return () => constant;
  }
  const count = parts.length;
  return (context) => {
    let out = '';
    for (let i = 0; i < count; i++) {
      const part = parts[i] as Part;
      out += typeof part === 'string' ? part : (part(context) as string);
    }
    return out;
  };
}
