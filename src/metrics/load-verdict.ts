import type { GeneratorHealth } from './generator-monitor.ts';
import type { IntervalHealth } from './history.ts';
import type { LoadCause, LoadNoise, IntervalLoad, LoadVerdict } from '../contracts/load.ts';
export type { LoadCause, LoadNoise, IntervalLoad, LoadVerdict } from '../contracts/load.ts';

/** The causes that are fleetsim's or the machine's, not the target's: a verdict on the target is then inconclusive. */
export function inconclusiveCause(cause: LoadCause): boolean {
  return cause === 'generator' || cause === 'host' || cause === 'queues';
}

/** What marks a short interval as each cause. */
export const SHORTFALL_LIMITS = {
  /** The main thread waited this share of the interval for a CPU: the machine, not fleetsim, held it back. */
  runQueuePercent: 20,
  stealPercent: 10,
  /** fleetsim's event loop (or main thread) was this busy: its own limit. */
  busyPercent: 90,
  /** Lag this high with an idle loop and no run-queue figure (off Linux): the machine's. */
  lagP99Ms: 50,
} as const;

/** Without a model: a Poisson count of single attempts. */
export const POISSON_NOISE: LoadNoise = { lump: 1, cycleS: 0, cv2: 1 };

/**
 * Whether `delivered` of `offered` over `windowS` falls short of the floor by more than counting
 * noise: three standard deviations of the count of lumps. Each of the N devices in the window
 * holds one lump more or less depending on where its cycle falls (variance up to 1/4 each), and a
 * random wait adds T·cv² over T lumps. Over a long run of a large fleet that is a fraction of a
 * percent; over a 4 s step of 10 lamps bursting every 1–2 s it is a fifth of the offer.
 */
export function shortOfFloor(offered: number, delivered: number, floor: number, noise: LoadNoise = POISSON_NOISE, windowS = 0): boolean {
  if (delivered >= floor * offered) return false;
  const lump = Math.max(1, noise.lump);
  const lumps = offered / lump;
  // Without a cycle (a merged file, a fake run) the count is taken as Poisson: variance = lumps.
  const phase = noise.cycleS > 0 && windowS > 0 ? (lumps * noise.cycleS) / windowS / 4 : 0;
  const variance = Math.max(1, lumps * noise.cv2 + phase);
  return floor * offered - delivered > NOISE_SIGMAS * lump * Math.sqrt(variance);
}

const NOISE_SIGMAS = 3;

/** Pool waits and answer times of an interval, in ms: what tells fleetsim's queue from the target's. */
export interface QueueReading {
  readonly queuedMeanMs: number;
  readonly latencyMeanMs: number;
}

/** Why an interval (or a run) that fell short did: the machine, fleetsim's loop, its queue, or the target. */
export function classifyShortfall(health: IntervalHealth | GeneratorHealth, queue: QueueReading | undefined): Exclude<LoadCause, 'delivered'> {
  const busy = 'busyPercent' in health ? health.busyPercent : (health.eventLoopBusyPercent ?? 0);
  const lag = 'lagP99Ms' in health ? health.lagP99Ms : health.eventLoopLagP99Ms;
  const runQueue = health.runQueuePercent;
  if ((runQueue ?? 0) >= SHORTFALL_LIMITS.runQueuePercent || (health.stealPercent ?? 0) >= SHORTFALL_LIMITS.stealPercent) return 'host';
  if (runQueue === undefined && lag >= SHORTFALL_LIMITS.lagP99Ms && busy < SHORTFALL_LIMITS.busyPercent) return 'host';
  if (busy >= SHORTFALL_LIMITS.busyPercent || ('busyPercent' in health && (health.cpuPercent ?? 0) >= SHORTFALL_LIMITS.busyPercent)) return 'generator';
  if (queue && queue.queuedMeanMs >= 1 && queue.queuedMeanMs >= queue.latencyMeanMs) return 'queues';
  return 'target';
}

interface WindowSample {
  readonly seconds: number;
  readonly offered: number;
  readonly delivered: number;
}

/** The trailing window behind each interval's share: offered and delivered counts of its last intervals. */
export class DeliveryWindow {
  private readonly samples: WindowSample[] = [];
  private offered = 0;
  private delivered = 0;
  private seconds = 0;

  constructor(
    readonly windowS: number,
    private readonly floor: number | null,
    /** How the fleet's count varies by chance (see shortOfFloor). */
    private readonly noise: LoadNoise = POISSON_NOISE,
  ) {}

  /** Adds one interval and judges it; `health` and `queue` decide the cause when the window fell short. */
  push(seconds: number, offered: number, delivered: number, health: IntervalHealth, queue: QueueReading | undefined): IntervalLoad {
    this.samples.push({ seconds, offered, delivered });
    this.offered += offered;
    this.delivered += delivered;
    this.seconds += seconds;
    while (this.samples.length > 1 && this.seconds - (this.samples[0] as WindowSample).seconds >= this.windowS) {
      const old = this.samples.shift() as WindowSample;
      this.offered -= old.offered;
      this.delivered -= old.delivered;
      this.seconds -= old.seconds;
    }
    const share = this.offered > 1e-9 ? round4(this.delivered / this.offered) : null;
    // Attempts count as delivered when they finish and as offered when they were meant to start, so a
    // window that is not yet full is one latency short by construction: it is shown, not judged.
    const full = this.seconds >= this.windowS - 1e-6;
    const cause =
      share === null ? null : this.floor === null || !full || !shortOfFloor(this.offered, this.delivered, this.floor, this.noise, this.seconds) ? 'delivered' : classifyShortfall(health, queue);
    return {
      offeredRps: round3(offered / seconds),
      deliveredRps: round3(delivered / seconds),
      deliveredShare: share,
      windowS: round3(this.seconds),
      cause,
    };
  }
}

/** Intervals by cause and the attempts each cause left undelivered, counted as the intervals close (before any folding). */
export interface LoadTally {
  readonly intervals: Record<LoadCause, number>;
  readonly shortfall: Record<LoadCause, number>;
}

export function emptyTally(): LoadTally {
  return { intervals: { delivered: 0, target: 0, generator: 0, host: 0, queues: 0 }, shortfall: { delivered: 0, target: 0, generator: 0, host: 0, queues: 0 } };
}

/** Counts one judged interval into `tally`. */
export function tallyInterval(tally: LoadTally, load: IntervalLoad, intervalS: number): void {
  if (!load.cause) return;
  tally.intervals[load.cause]++;
  if (load.cause !== 'delivered') tally.shortfall[load.cause] += Math.max(0, load.offeredRps - load.deliveredRps) * intervalS + 1e-6;
}

export interface LoadVerdictInput {
  readonly floor: number | null;
  readonly offered: number;
  readonly delivered: number;
  readonly seconds: number;
  /** The intervals' judgements (each with its offered count as the weight of its shortfall). */
  readonly intervals: readonly { readonly load?: IntervalLoad | undefined; readonly intervalS: number }[];
  readonly generator: GeneratorHealth;
  readonly queue: QueueReading | undefined;
  /** The unit the summary counts in (`req/s`, `msg/s`). */
  readonly unit: string;
  /** How the offered count varies by chance (see shortOfFloor); a Poisson count when not known. */
  readonly noise?: LoadNoise;
  /** The intervals' causes as they closed; without it they are read from `intervals` (a merged or folded history). */
  readonly tally?: LoadTally;
  /** Some model waits for each answer: the advice on a target shortfall says what that means. */
  readonly closedModels?: boolean;
  /** The floor alone decides, with no allowance for counting noise (a capacity step measured as long as it will be). */
  readonly strict?: boolean;
}

export function loadVerdict(input: LoadVerdictInput): LoadVerdict {
  const seconds = Math.max(0.001, input.seconds);
  const share = input.offered > 1e-9 ? round4(input.delivered / input.offered) : null;
  let tally = input.tally;
  if (!tally) {
    const counted = emptyTally();
    for (const point of input.intervals) if (point.load) tallyInterval(counted, point.load, point.intervalS);
    tally = counted;
  }
  const { intervals, shortfall } = tally;
  let cause: LoadCause = 'delivered';
  if (share !== null && input.floor !== null && (input.strict ? share < input.floor : shortOfFloor(input.offered, input.delivered, input.floor, input.noise, seconds))) {
    // The cause that cost the most undelivered load; with no short interval (a run short only in sum), the run's own readings.
    const ranked = (['host', 'generator', 'queues', 'target'] as const).filter((c) => shortfall[c] > 0).sort((a, b) => shortfall[b] - shortfall[a]);
    cause = ranked[0] ?? classifyShortfall(input.generator, input.queue);
  }
  const offeredRps = round3(input.offered / seconds);
  const deliveredRps = round3(input.delivered / seconds);
  const host = {
    runQueuePercent: input.generator.runQueuePercent ?? null,
    otherCpuPercent: input.generator.otherCpuPercent ?? null,
    stealPercent: input.generator.stealPercent ?? null,
  };
  const summary = describe(cause, share, offeredRps, deliveredRps, input.floor, input.unit);
  const advice = cause === 'target' && input.closedModels ? CLOSED_MODEL_ADVICE : adviceFor(cause, host, input.generator);
  return {
    floor: input.floor,
    offered: round3(input.offered),
    delivered: input.delivered,
    offeredRps,
    deliveredRps,
    deliveredShare: share,
    cause,
    intervals: { ...intervals },
    noise: input.noise ?? POISSON_NOISE,
    summary,
    ...(advice ? { advice } : {}),
    host,
  };
}

/** A closed model's rate falls with the target's latency by design: say so, and how to accept it. */
const CLOSED_MODEL_ADVICE =
  "devices with a constant or between wait wait for each answer, so the target's answer time lowers their rate (at a 1.5 s wait, 100 ms answers deliver 94%); if that is the load you mean, lower --min-delivered, or use pacing to offer a fixed rate";

const percent = (share: number): string => `${Math.round(share * 1000) / 10}%`;

function rate(value: number): string {
  return value >= 100 ? String(Math.round(value)) : String(Math.round(value * 10) / 10);
}

function describe(cause: LoadCause, share: number | null, offeredRps: number, deliveredRps: number, floor: number | null, unit: string): string {
  if (share === null) return 'no offered load to hold the run to (closed-model devices without a wait, or devices that only listen)';
  const delivered = `delivered ${percent(share)} of the offered load (${rate(deliveredRps)} of ${rate(offeredRps)} ${unit})`;
  if (floor === null) return `${delivered}; the check is off`;
  switch (cause) {
    case 'delivered':
      return share >= floor ? `${delivered}, at or above the ${percent(floor)} floor` : `${delivered}: below the ${percent(floor)} floor by less than counting noise for so few tasks, so not short`;
    case 'target':
      return `the target answered ${rate(deliveredRps)} of ${rate(offeredRps)} ${unit} (${percent(share)}, below the ${percent(floor)} floor) while fleetsim had CPU to spare: the target's limit`;
    case 'generator':
      return `${delivered}, below the ${percent(floor)} floor: fleetsim's own event loop was the limit, so the run says nothing about the target`;
    case 'host':
      return `${delivered}, below the ${percent(floor)} floor: the machine did not give fleetsim the CPU it was ready to use, so the run says nothing about the target`;
    case 'queues':
      return `${delivered}, below the ${percent(floor)} floor: requests waited longer for one of fleetsim's pooled connections than for the target's answer`;
  }
}

function adviceFor(cause: LoadCause, host: LoadVerdict['host'], generator: GeneratorHealth): string | undefined {
  switch (cause) {
    case 'delivered':
    case 'target':
      return undefined;
    case 'generator':
      return `fleetsim's own event loop could not keep up (busy ${generator.eventLoopBusyPercent ?? generator.cpuPercent ?? '?'}% over the whole run, more in the short intervals): run fewer devices per process (--workers N, or shards on more machines)`;
    case 'host': {
      const other = host.otherCpuPercent === null ? '' : `other processes used ${host.otherCpuPercent}% of the machine's CPU during this run; `;
      const steal = host.stealPercent ? `the hypervisor took ${host.stealPercent}%; ` : '';
      const waited = host.runQueuePercent === null ? '' : `fleetsim waited for a CPU ${host.runQueuePercent}% of the time. `;
      return `${other}${steal}${waited}Run it on a quieter machine, or pin fleetsim and the target to different cores (taskset)`;
    }
    case 'queues':
      return 'raise http.connections in the profile, or give each device its own connection (http.connectionPerDevice: true)';
  }
}

const round3 = (value: number): number => Math.round(value * 1000) / 1000;
const round4 = (value: number): number => Math.round(value * 10000) / 10000;
