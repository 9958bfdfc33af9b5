import { checkDecimals, numberArg, numericValueArg, roundTo, secondsArg, stringArg, valueArg } from '../arguments.ts';
import type { FunctionSpec } from '../function-spec.ts';
import { allocateState, defineSlot, gaussian, lookupSlot, newSample } from './state.ts';

/** Block layout: [seq, sample index, value]. */
const SAMPLE = 1;
const VALUE = 2;

/**
 * Cycles, named channels and channels that follow them. Time is simulated: sample n of a generator
 * is at n × step seconds (00:00 of day 0 for sample 0), one sample per message, so a day can pass
 * in 24 messages or in 8,640, and the same seed gives the same values whatever the wall clock says.
 */
export const CYCLE_FUNCTIONS: readonly (readonly [string, FunctionSpec])[] = [
  [
    'cycle',
    {
      signature: 'cycle(mean, amplitude, period, peak, step, noise = 0, decimals = 2)',
      minArgs: 5,
      maxArgs: 7,
      build(args, slots) {
        const mean = numericValueArg(args, 0);
        const amplitude = numberArg(args, 1);
        const period = secondsArg(args, 2);
        const peak = secondsArg(args, 3);
        const step = secondsArg(args, 4);
        const noise = numberArg(args, 5, 0);
        const decimals = numberArg(args, 6, 2);
        if (!(period > 0)) throw new TypeError('period must be longer than 0s');
        if (!(step > 0)) throw new TypeError('step must be longer than 0s');
        if (!(noise >= 0)) throw new TypeError('noise must not be negative');
        checkDecimals(decimals);
        const factor = 10 ** decimals;
        const omega = (2 * Math.PI) / period;
        const base = allocateState(slots, [-1, 0]);
        return (context) => {
          const walks = context.walks;
          if (!newSample(context, base)) return walks[base + VALUE] as number;
          const n = (walks[base + SAMPLE] as number) + 1;
          walks[base + SAMPLE] = n;
          let value = mean(context) + amplitude * Math.cos(omega * (n * step - peak));
          if (noise > 0) value += noise * gaussian(context.random);
          value = roundTo(value, factor);
          walks[base + VALUE] = value;
          return value;
        };
      },
    },
  ],
  [
    'channel',
    {
      signature: 'channel(name, value)',
      minArgs: 2,
      maxArgs: 2,
      build(args, slots) {
        const name = stringArg(args, 0);
        const value = valueArg(args, 1);
        const base = allocateState(slots, [Number.NaN]);
        // The nearest earlier definition wins: a Sparkplug node compiles its metrics once per device.
        defineSlot(slots, `channel:${name}`, base + 1);
        return (context) => {
          const result = value(context);
          context.walks[base + 1] = Number(result);
          return result;
        };
      },
    },
  ],
  [
    'correlated',
    {
      signature: 'correlated(channel, intercept, slope, noise = 0, decimals = 2)',
      minArgs: 3,
      maxArgs: 5,
      build(args, slots) {
        const name = stringArg(args, 0);
        const intercept = numberArg(args, 1);
        const slope = numberArg(args, 2);
        const noise = numberArg(args, 3, 0);
        const decimals = numberArg(args, 4, 2);
        if (!(noise >= 0)) throw new TypeError('noise must not be negative');
        checkDecimals(decimals);
        const source = lookupSlot(slots, `channel:${name}`);
        if (source === undefined) throw new TypeError(`no channel '${name}' before this field: name one first with channel('${name}', …)`);
        const factor = 10 ** decimals;
        const base = allocateState(slots, [0]);
        return (context) => {
          const walks = context.walks;
          if (!newSample(context, base)) return walks[base + 1] as number;
          let value = intercept + slope * (walks[source] as number);
          if (noise > 0) value += noise * gaussian(context.random);
          value = roundTo(value, factor);
          walks[base + 1] = value;
          return value;
        };
      },
    },
  ],
];
