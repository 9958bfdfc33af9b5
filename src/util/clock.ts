import { performance } from 'node:perf_hooks';

/** Milliseconds on a monotonic clock; injectable so wait models and scheduling can be tested without real time. */
export interface Clock {
  now(): number;
}

export const systemClock: Clock = { now: () => performance.now() };

/** Microseconds elapsed since `start` (from `process.hrtime.bigint()`). */
export function elapsedMicros(start: bigint): number {
  return Number(process.hrtime.bigint() - start) / 1000;
}
