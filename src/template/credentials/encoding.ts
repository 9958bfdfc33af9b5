import { createHmac } from 'node:crypto';
import { stringArg, valueArg } from '../arguments.ts';
import type { FunctionSpec } from '../function-spec.ts';
import { noteDerivedSecret } from './derived-secrets.ts';

const KEY_ENCODINGS = ['utf8', 'base64', 'hex'] as const;
const OUTPUT_ENCODINGS = ['base64', 'base64url', 'hex'] as const;

function oneOf<T extends string>(value: string, allowed: readonly T[], what: string): T {
  if (!(allowed as readonly string[]).includes(value)) throw new TypeError(`${what} must be ${allowed.map((item) => `'${item}'`).join(', ')}, not '${value}'`);
  return value as T;
}

export const ENCODING_FUNCTIONS: readonly (readonly [string, FunctionSpec])[] = [
  [
    'concat',
    {
      signature: 'concat(a, b, ...)',
      minArgs: 1,
      maxArgs: 100,
      build(args) {
        const parts = args.map((_, i) => valueArg(args, i));
        const count = parts.length;
        return (context) => {
          let out = '';
          for (let i = 0; i < count; i++) out += String((parts[i] as (typeof parts)[number])(context));
          return out;
        };
      },
    },
  ],
  [
    'base64url',
    {
      signature: 'base64url(text)',
      minArgs: 1,
      maxArgs: 1,
      build(args) {
        const text = valueArg(args, 0);
        return (context) => Buffer.from(String(text(context))).toString('base64url');
      },
    },
  ],
  [
    'base64',
    {
      signature: 'base64(text)',
      minArgs: 1,
      maxArgs: 1,
      build(args) {
        const text = valueArg(args, 0);
        return (context) => Buffer.from(String(text(context))).toString('base64');
      },
    },
  ],
  [
    'hmacSha256',
    {
      signature: "hmacSha256(key, message, keyEncoding = 'utf8', output = 'base64')",
      minArgs: 2,
      maxArgs: 4,
      build(args, _slots, call) {
        const key = valueArg(args, 0);
        const message = valueArg(args, 1);
        const keyEncoding = oneOf(stringArg(args, 2, 'utf8'), KEY_ENCODINGS, 'keyEncoding');
        const output = oneOf(stringArg(args, 3, 'base64'), OUTPUT_ENCODINGS, 'output');
        return (context) => {
          const digest = createHmac('sha256', Buffer.from(String(key(context)), keyEncoding))
            .update(String(message(context)))
            .digest(output);
          noteDerivedSecret(context, digest, call.source);
          return digest;
        };
      },
    },
  ],
];
