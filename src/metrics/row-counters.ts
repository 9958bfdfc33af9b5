import type { StatsRow } from './results.ts';

/**
 * Every count a stats row carries, in one list: the rows' sums (total, per type) and `merge`'s sum
 * over shards both walk it, so a counter added to the row cannot be left out of either.
 */
export const COUNTER_KEYS = ['requests', 'failures', 'timeouts', 'bytesIn', 'late', 'missed', 'lateAcks', 'qosDowngrades', 'offered', 'delivered', 'linkSamples', 'linkAddedMs'] as const;

export type CounterKey = (typeof COUNTER_KEYS)[number];

export type Counters = Record<CounterKey, number>;

/** The row's numbers that are rates of the counts rather than counts. */
type RateKey = 'rps' | 'failuresPerS' | 'offeredRps' | 'deliveredShare' | 'linkMeanMs';

type NumericRowKey = { [K in keyof StatsRow]-?: NonNullable<StatsRow[K]> extends number ? K : never }[keyof StatsRow];

/** Fails to compile when the row gains a number that is neither a counter above nor a rate. */
type Exhaustive<Missing extends never> = Missing;
export type CountersCoverTheRow = Exhaustive<Exclude<NumericRowKey, CounterKey | RateKey>>;

/** Fails to compile when a counter above is not a number on the row. */
export type CountersAreOnTheRow = Exhaustive<Exclude<CounterKey, NumericRowKey>>;

export const zeroCounters = (): Counters => ({
  requests: 0,
  failures: 0,
  timeouts: 0,
  bytesIn: 0,
  late: 0,
  missed: 0,
  lateAcks: 0,
  qosDowngrades: 0,
  offered: 0,
  delivered: 0,
  linkSamples: 0,
  linkAddedMs: 0,
});

/** Adds every counter of `source` into `target`; a counter a row leaves out (none of it) adds nothing. */
export function addCounters(target: Counters, source: Partial<Readonly<Counters>>): void {
  for (const key of COUNTER_KEYS) target[key] += source[key] ?? 0;
}
