import { numberArg, numericValueArg, stringArg } from '../arguments.ts';
import type { FunctionSpec } from '../function-spec.ts';
import { noteAnomaly } from './anomaly-labels.ts';
import type { AnomalyKind } from './anomaly-labels.ts';
import { allocateState, newSample } from './state.ts';

const KINDS: readonly AnomalyKind[] = ['spike', 'stuck', 'dropout', 'drift'];

/** Block layout: [seq, sent value, samples left of the anomaly under way, its kind, its sample index, stuck value, sign]. */
const SENT = 1;
const LEFT = 2;
const KIND = 3;
const INDEX = 4;
const HELD = 5;
const SIGN = 6;

/** Sums of decimals carry binary noise (21.2 + 5 = 26.200000000000003): the sent value is cut to 10 places. */
function tidy(value: number): number {
  return Math.round(value * 1e10) / 1e10;
}

export const ANOMALY_FUNCTIONS: readonly (readonly [string, FunctionSpec])[] = [
  [
    'anomaly',
    {
      signature: "anomaly(channel, value, rate, magnitude, kinds = 'spike,stuck,dropout,drift', samples = 10)",
      minArgs: 4,
      maxArgs: 6,
      build(args, slots) {
        const channel = stringArg(args, 0);
        const value = numericValueArg(args, 1);
        const rate = numberArg(args, 2);
        const magnitude = numberArg(args, 3);
        const kinds = stringArg(args, 4, KINDS.join(','))
          .split(',')
          .map((kind) => kind.trim());
        const samples = numberArg(args, 5, 10);
        if (!(rate >= 0 && rate <= 1)) throw new TypeError('rate is a probability per sample, from 0 to 1');
        for (const kind of kinds) if (!(KINDS as readonly string[]).includes(kind)) throw new TypeError(`unknown anomaly kind '${kind}' (known: ${KINDS.join(', ')})`);
        if (!Number.isInteger(samples) || samples < 1) throw new TypeError('samples (how long a stuck value, dropout or drift lasts) must be a whole number from 1');
        const kindList = kinds as AnomalyKind[];
        const base = allocateState(slots, [0, 0, 0, 0, 0, 1]);
        return (context) => {
          const walks = context.walks;
          if (!newSample(context, base)) return walks[base + SENT] as number;
          const clean = value(context);
          let left = walks[base + LEFT] as number;
          if (left === 0 && rate > 0 && context.random() < rate) {
            const kindIndex = Math.floor(context.random() * kindList.length);
            walks[base + KIND] = kindIndex;
            walks[base + INDEX] = 0;
            walks[base + HELD] = clean;
            walks[base + SIGN] = context.random() < 0.5 ? -1 : 1;
            left = kindList[kindIndex] === 'spike' ? 1 : samples;
          }
          if (left === 0) {
            walks[base + SENT] = clean;
            return clean;
          }
          const kind = kindList[walks[base + KIND] as number] as AnomalyKind;
          const index = walks[base + INDEX] as number;
          let sent: number;
          if (kind === 'spike') sent = tidy(clean + (walks[base + SIGN] as number) * magnitude);
          else if (kind === 'stuck') sent = walks[base + HELD] as number;
          else if (kind === 'dropout') sent = Number.NaN;
          else sent = tidy(clean + (walks[base + SIGN] as number) * magnitude * ((index + 1) / samples));
          walks[base + INDEX] = index + 1;
          walks[base + LEFT] = left - 1;
          walks[base + SENT] = sent;
          noteAnomaly(context, { channel, kind, value: sent, clean });
          return sent;
        };
      },
    },
  ],
];
