import { checkDecimals, checkRange, literalArg, numberArg, numericValueArg, roundTo, secondsArg } from '../arguments.ts';
import type { FunctionSpec } from '../function-spec.ts';
import { allocateState, exponential, newSample, seededUniform } from './state.ts';

/** Block layout: [seq, sample index, value]. */
const SAMPLE = 1;
const VALUE = 2;

/** Block layout of a state machine: [seq, sample index, state, dwell left, seeded start state, seeded first dwell]. */
const STATE = 2;
const LEFT = 3;
const START_PICK = 4;
const START_DWELL = 5;

export const COUNTER_FUNCTIONS: readonly (readonly [string, FunctionSpec])[] = [
  [
    'counter',
    {
      signature: 'counter(start, stepMin, stepMax, decimals = 0)',
      minArgs: 3,
      maxArgs: 4,
      build(args, slots) {
        // The start may be a call, int(0, 90000) say: it is evaluated once, at the device's first sample.
        const start = numericValueArg(args, 0);
        const stepMin = numberArg(args, 1);
        const stepMax = numberArg(args, 2);
        const decimals = numberArg(args, 3, 0);
        checkRange(stepMin, stepMax);
        if (stepMin < 0) throw new TypeError('a counter only counts up: stepMin must not be negative');
        checkDecimals(decimals);
        const factor = 10 ** decimals;
        const whole = decimals === 0 && Number.isInteger(stepMin) && Number.isInteger(stepMax);
        const span = whole ? stepMax - stepMin + 1 : stepMax - stepMin;
        const base = allocateState(slots, [-1, 0]);
        return (context) => {
          const walks = context.walks;
          if (!newSample(context, base)) return walks[base + VALUE] as number;
          const n = (walks[base + SAMPLE] as number) + 1;
          walks[base + SAMPLE] = n;
          let value: number;
          if (n === 0) value = start(context);
          else {
            const draw = stepMin + context.random() * span;
            value = (walks[base + VALUE] as number) + (whole ? Math.floor(draw) : draw);
          }
          value = roundTo(value, factor);
          walks[base + VALUE] = value;
          return value;
        };
      },
    },
  ],
  [
    'states',
    {
      signature: 'states(step, name1, dwell1, name2, dwell2, ...)',
      minArgs: 5,
      maxArgs: 201,
      build(args, slots) {
        const step = secondsArg(args, 0);
        if (!(step > 0)) throw new TypeError('step must be longer than 0s');
        if ((args.length - 1) % 2 !== 0) throw new TypeError('states come in pairs: a name and its mean dwell time');
        const names: (string | number | boolean)[] = [];
        const dwells: number[] = [];
        for (let i = 1; i < args.length; i += 2) {
          names.push(literalArg(args, i) as string | number | boolean);
          const dwell = secondsArg(args, i + 1);
          if (!(dwell > 0)) throw new TypeError(`the dwell time of '${String(names[names.length - 1])}' must be longer than 0s`);
          dwells.push(dwell);
        }
        const count = names.length;
        const totalDwell = dwells.reduce((sum, dwell) => sum + dwell, 0);
        const base = allocateState(slots, [-1, 0, 0]);
        if (seededUniform(slots) !== base + START_PICK || seededUniform(slots) !== base + START_DWELL) throw new Error('state machine slots must be consecutive');
        return (context) => {
          const walks = context.walks;
          if (newSample(context, base)) {
            const n = (walks[base + SAMPLE] as number) + 1;
            walks[base + SAMPLE] = n;
            if (n === 0) {
              // A device joins its cycle part-way: in each state for the share of time the cycle spends there.
              let point = (walks[base + START_PICK] as number) * totalDwell;
              let state = 0;
              while (state < count - 1 && point >= (dwells[state] as number)) point -= dwells[state++] as number;
              walks[base + STATE] = state;
              walks[base + LEFT] = exponential(walks[base + START_DWELL] as number, dwells[state] as number);
            } else {
              let state = walks[base + STATE] as number;
              let left = (walks[base + LEFT] as number) - step;
              while (left <= 0) {
                state = (state + 1) % count;
                left += exponential(context.random(), dwells[state] as number);
              }
              walks[base + STATE] = state;
              walks[base + LEFT] = left;
            }
          }
          return names[walks[base + STATE] as number] as string | number | boolean;
        };
      },
    },
  ],
];
