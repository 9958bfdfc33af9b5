import { checkDecimals, checkRange, literalArg, numberArg, roundTo } from './arguments.ts';
import type { CompiledValue, TemplateContext } from './context.ts';
import { CREDENTIAL_FUNCTIONS } from './credentials/functions.ts';
import type { FunctionSpec, Literal } from './function-spec.ts';
import { GENERATOR_FUNCTIONS } from './generators/functions.ts';

export type { Argument, CallSite, FunctionSpec, Literal, SlotAllocator } from './function-spec.ts';

const HEX = '0123456789abcdef';

/** The attempt's time, taken once: every `now()`/`nowMs()` of one request or payload agree. */
function attemptTime(context: TemplateContext): number {
  if (context.timeMs === 0) context.timeMs = Date.now();
  return context.timeMs;
}

/** The wall clock: the one value no seed decides. The request log shows these calls, not their values. */
const CLOCK_FUNCTIONS: readonly (readonly [string, FunctionSpec])[] = [
  ['now', { signature: 'now()', minArgs: 0, maxArgs: 0, build: () => (context) => new Date(attemptTime(context)).toISOString() }],
  ['nowMs', { signature: 'nowMs()', minArgs: 0, maxArgs: 0, build: () => attemptTime }],
];

export const TEMPLATE_FUNCTIONS: ReadonlyMap<string, FunctionSpec> = new Map<string, FunctionSpec>([
  [
    'int',
    {
      signature: 'int(min, max)',
      minArgs: 2,
      maxArgs: 2,
      build(args) {
        const min = numberArg(args, 0);
        const max = numberArg(args, 1);
        checkRange(min, max);
        if (!Number.isInteger(min) || !Number.isInteger(max)) throw new TypeError('int() bounds must be integers');
        const span = max - min + 1;
        return (context) => min + Math.floor(context.random() * span);
      },
    },
  ],
  [
    'float',
    {
      signature: 'float(min, max, decimals = 2)',
      minArgs: 2,
      maxArgs: 3,
      build(args) {
        const min = numberArg(args, 0);
        const max = numberArg(args, 1);
        const decimals = numberArg(args, 2, 2);
        checkRange(min, max);
        checkDecimals(decimals);
        const span = max - min;
        const factor = 10 ** decimals;
        return (context) => roundTo(min + context.random() * span, factor);
      },
    },
  ],
  [
    'pick',
    {
      signature: 'pick(a, b, ...)',
      minArgs: 1,
      maxArgs: 1000,
      build(args) {
        const choices = args.map((_, i) => literalArg(args, i) as Literal);
        const count = choices.length;
        return (context) => choices[Math.floor(context.random() * count)] as Literal;
      },
    },
  ],
  [
    'bool',
    {
      signature: 'bool(probabilityTrue = 0.5)',
      minArgs: 0,
      maxArgs: 1,
      build(args) {
        const p = numberArg(args, 0, 0.5);
        if (p < 0 || p > 1) throw new TypeError('probability must be between 0 and 1');
        return (context) => context.random() < p;
      },
    },
  ],
  [
    'walk',
    {
      signature: 'walk(min, max, step, decimals = 2)',
      minArgs: 3,
      maxArgs: 4,
      build(args, slots) {
        const min = numberArg(args, 0);
        const max = numberArg(args, 1);
        const step = numberArg(args, 2);
        const decimals = numberArg(args, 3, 2);
        checkRange(min, max);
        checkDecimals(decimals);
        if (step < 0) throw new TypeError('step must not be negative');
        const slot = slots.allocateWalk(min, max);
        const factor = 10 ** decimals;
        return (context: TemplateContext) => {
          const next = Math.min(max, Math.max(min, (context.walks[slot] ?? min) + (context.random() * 2 - 1) * step));
          context.walks[slot] = next;
          return roundTo(next, factor);
        };
      },
    },
  ],
  [
    'uuid',
    {
      signature: 'uuid()',
      minArgs: 0,
      maxArgs: 0,
      build() {
        // A v4-shaped id drawn from the device's stream, so it is reproducible under the same seed.
        return (context) => {
          let out = '';
          for (let i = 0; i < 32; i++) {
            let nibble = Math.floor(context.random() * 16);
            if (i === 12) nibble = 4;
            else if (i === 16) nibble = 8 | (nibble & 3);
            out += HEX[nibble];
            if (i === 7 || i === 11 || i === 15 || i === 19) out += '-';
          }
          return out;
        };
      },
    },
  ],
  [
    'hex',
    {
      signature: 'hex(digits)',
      minArgs: 1,
      maxArgs: 1,
      build(args) {
        const digits = numberArg(args, 0);
        if (!Number.isInteger(digits) || digits < 1 || digits > 64) throw new TypeError('digits must be an integer from 1 to 64');
        return (context) => {
          let out = '';
          for (let i = 0; i < digits; i++) out += HEX[Math.floor(context.random() * 16)];
          return out;
        };
      },
    },
  ],
  ...CLOCK_FUNCTIONS,
  ...CREDENTIAL_FUNCTIONS,
  ...GENERATOR_FUNCTIONS,
]);

export const TEMPLATE_FIELDS: ReadonlyMap<string, CompiledValue> = new Map<string, CompiledValue>([
  ['device.id', (context) => context.deviceId],
  ['device.index', (context) => context.deviceIndex],
  ['device.model', (context) => context.deviceModel],
  // 1 from the start, one more per reboot of the device's lifecycle.
  ['device.boots', (context) => context.boots ?? 1],
  ['seq', (context) => context.seq],
  ['repeat.index', (context) => context.repeatIndex],
  ['repeat.number', (context) => context.repeatIndex + 1],
  // The device a command step addresses (the profile refuses them outside such a step).
  ['target.id', (context) => context.targetId ?? ''],
  ['target.index', (context) => context.targetIndex ?? -1],
]);
