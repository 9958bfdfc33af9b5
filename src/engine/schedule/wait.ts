import type { Random } from '../../identity/rng.ts';
import type { WaitModel } from '../../profile/types.ts';

/** When the next task should start and when it was meant to start (they differ only under pacing). */
export interface NextTick {
  /** Wall time (clock ms) at which to start the next task. */
  startAt: number;
  /** The time the schedule intended; latency under pacing is also measured from here. */
  intendedAt: number;
  /** Pacing ticks skipped because the previous task overran by more than a whole interval. */
  missed: number;
}

function paced(intervalMs: number, intendedAt: number, endedAt: number, out: NextTick): NextTick {
  let next = intendedAt + intervalMs;
  let missed = 0;
  if (endedAt - next >= intervalMs) {
    missed = Math.floor((endedAt - next) / intervalMs);
    next += missed * intervalMs;
  }
  out.intendedAt = next;
  out.startAt = Math.max(next, endedAt);
  out.missed = missed;
  return out;
}

/**
 * Computes the next start from the model. Pacing keeps a fixed grid anchored at the first task
 * (not at each task's end), so a slow target makes ticks late rather than silently fewer: this is
 * what lets latency be measured from the intended time. `out` is reused to avoid allocation.
 */
export function nextTick(wait: WaitModel, random: Random, intendedAt: number, endedAt: number, out: NextTick): NextTick {
  switch (wait.model) {
    case 'constant':
      out.startAt = out.intendedAt = endedAt + wait.timeMs;
      out.missed = 0;
      return out;
    case 'between':
      out.startAt = out.intendedAt = endedAt + wait.minMs + random() * (wait.maxMs - wait.minMs);
      out.missed = 0;
      return out;
    case 'pacing':
      return paced(wait.intervalMs, intendedAt, endedAt, out);
    case 'throughput':
      return paced(1000 / wait.perSecond, intendedAt, endedAt, out);
  }
}

export function isPaced(wait: WaitModel): boolean {
  return wait.model === 'pacing' || wait.model === 'throughput';
}

/** An open wait model's period (pacing, throughput); undefined for closed ones. */
export function pacingPeriodMs(wait: WaitModel): number | undefined {
  if (wait.model === 'pacing') return wait.intervalMs;
  if (wait.model === 'throughput') return 1000 / wait.perSecond;
  return undefined;
}

/** Timers fire a few ms late on a busy loop; a tick counts as late only beyond this. */
const LATE_TOLERANCE_MS = 10;

/** A paced task's first attempt started late for its tick. */
export function startedLate(startedAt: number, intendedAt: number): boolean {
  return startedAt - intendedAt > LATE_TOLERANCE_MS;
}

/**
 * Latency from the paced tick rather than from the send, so a late start counts against the target.
 * A wake can come up to a millisecond before its due time: never less than the service time.
 */
export function latencyFromIntendedMicros(latencyMicros: number, intendedAt: number, endedAt: number): number {
  return Math.max(latencyMicros, (endedAt - intendedAt) * 1000);
}
