/**
 * Whose limit kept the load from being delivered: `delivered` when it was (at least the floor's
 * share); `target` when fleetsim had CPU to spare and the answers came slowly or not at all;
 * `generator` when fleetsim's own event loop was busy; `host` when fleetsim was ready to run but the
 * machine gave the CPU to others (run-queue wait, steal); `queues` when requests waited for one of
 * fleetsim's own pooled connections longer than the target took to answer them.
 */
export type LoadCause = 'delivered' | 'target' | 'generator' | 'host' | 'queues';

/**
 * How much a window's count of attempts varies by chance: devices send in lumps (a task; a burst of
 * `repeat: 10` is one lump of 10) once per cycle of `cycleS` seconds, whose squared coefficient of
 * variation is `cv2` (0 for pacing and constant waits, (max-min)²/12/mean² for `between`).
 */
export interface LoadNoise {
  readonly lump: number;
  readonly cycleS: number;
  readonly cv2: number;
}

/** One interval's share of the offered load, over a trailing window so a paced fleet's lumps even out. */
export interface IntervalLoad {
  /** What the fleet meant to send in this interval, and what it sent (attempts on the offered rows), per second. */
  readonly offeredRps: number;
  readonly deliveredRps: number;
  /** Delivered ÷ offered over the last `windowS` seconds; null when nothing was offered in them. */
  readonly deliveredShare: number | null;
  readonly windowS: number;
  /** Whose limit it was when the share fell below the floor; `delivered` when it did not; null with nothing offered. */
  readonly cause: LoadCause | null;
}

/** What the run as a whole delivered, and whose limit it was when it fell short (`fleetsim.results/v1` `load`). */
export interface LoadVerdict {
  /** The floor (`--min-delivered`); null when the check is off. */
  readonly floor: number | null;
  readonly offered: number;
  readonly delivered: number;
  readonly offeredRps: number;
  readonly deliveredRps: number;
  /** Delivered ÷ offered; null when the fleet offered nothing it could be held to (flat-out closed models, listeners). */
  readonly deliveredShare: number | null;
  readonly cause: LoadCause;
  /** Intervals by their cause (short ones by whose limit, the rest `delivered`). */
  readonly intervals: Readonly<Record<LoadCause, number>>;
  /** How the offered count varies by chance: the counting-noise allowance (see shortOfFloor). */
  readonly noise: LoadNoise;
  /** One sentence for people: what was delivered, and whose limit it was. */
  readonly summary: string;
  /** What to do about it, fitted to the cause; absent when the load was delivered. */
  readonly advice?: string;
  /** The machine over the run: fleetsim's run-queue wait, other processes' CPU, steal. */
  readonly host: { readonly runQueuePercent: number | null; readonly otherCpuPercent: number | null; readonly stealPercent: number | null };
}
