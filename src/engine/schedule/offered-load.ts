import type { StatsEntry } from '../../metrics/stats.ts';
import { actionType } from '../../profile/types.ts';
import type { DeviceModel, FleetEntry, TaskSpec, WaitModel } from '../../profile/types.ts';
import { rampStepsDue } from './ramp.ts';
import { DownTimeline } from './down-timeline.ts';
import type { NetworkMix } from '../../profile/network-presets.ts';

/**
 * The load the fleet means to offer, computed from the plan and the shape alone: what the devices
 * would send against an instant target on a machine that gives fleetsim all the CPU it wants. It is
 * never read off what was sent, so a starved generator or a slow target cannot lower it.
 *
 * - Open models (`pacing`, `throughput`, tasks with `every`) have an exact schedule: one task per
 *   period per device.
 * - Closed models (`constant`, `between`) wait after each task; against an instant target a task
 *   takes only its own sleeps, so a device picks a task every mean wait plus mean sleep.
 * - Boot tasks are offered once per device start. Reactions, logins and MQTT session setup answer
 *   to what happens during the run, so nothing is offered for them.
 * - The running device count is the shape's (the ramp's schedule), not the count that managed to
 *   start, so devices a starved loop started late are load that was not delivered.
 * - A declared network link is part of the plan too: a closed model's cycle (and an open one that
 *   cannot keep its period) includes the link's mean round trip per attempt it waits for.
 * - A device's lifecycle (sleep, reboots, offline windows) is seeded, so it is part of the plan: a
 *   device is not offered load while its lifecycle keeps it off the network, and a reboot offers
 *   its boot tasks again.
 */
export class OfferedLoad {
  private readonly offers: ModelOffer[];
  /** Each fleet entry's offer (undefined for an empty entry), and its devices' lifecycle: off the network, and reboots. */
  private readonly offerOfEntry: (ModelOffer | undefined)[];
  private readonly down = new Map<ModelOffer, DownTimeline>();
  private readonly reboots = new Map<ModelOffer, DownTimeline>();
  private readonly segments: RampSegment[] = [];
  /** Entries a model offers load on: the rows whose requests count as delivered. */
  readonly offeredEntries: ReadonlySet<StatsEntry>;
  /** The longest task period of any model, ms: a share judged over less would see a paced fleet's lumps. */
  readonly longestCycleMs: number;

  constructor(fleet: readonly FleetEntry[], iterations: number | undefined, entryFor: (type: string, name: string) => StatsEntry) {
    const devices = fleet.reduce((sum, entry) => sum + entry.count, 0);
    this.offerOfEntry = fleet.map((entry) => (entry.count > 0 ? modelOffer(entry.model, devices === 0 ? 0 : entry.count / devices, iterations, entryFor, meanRoundTripMs(entry.network ?? entry.model.network)) : undefined));
    this.offers = this.offerOfEntry.filter((offer) => offer !== undefined);
    this.offeredEntries = new Set(this.offers.flatMap((offer) => [...offer.perSecond, ...offer.perStart].map(([entry]) => entry)));
    for (const entry of this.offeredEntries) entry.offers = true;
    this.longestCycleMs = Math.max(0, ...this.offers.map((offer) => offer.cycleMs));
  }

  /** The shape moves the population from `from` to `goal` over `overMs`, starting at `atMs` (ms since the run began). */
  rampTo(atMs: number, from: number, goal: number, overMs: number): void {
    this.segments.push({ startMs: atMs, from, goal, overMs: Math.max(0, overMs) });
  }

  /**
   * A device of fleet entry `entry` left the network (`delta` 1) or came back (-1) at `atMs` as its
   * lifecycle planned (sleep, reboot, offline window): its tasks are not offered while it is away.
   */
  deviceDown(entry: number, atMs: number, delta: 1 | -1): void {
    const offer = this.offerOfEntry[entry];
    if (!offer) return;
    let timeline = this.down.get(offer);
    if (!timeline) this.down.set(offer, (timeline = new DownTimeline()));
    timeline.change(atMs, delta);
  }

  /** A device of fleet entry `entry` rebooted at `atMs`: its boot tasks are offered again. */
  rebooted(entry: number, atMs: number): void {
    const offer = this.offerOfEntry[entry];
    if (!offer) return;
    let timeline = this.reboots.get(offer);
    if (!timeline) this.reboots.set(offer, (timeline = new DownTimeline()));
    timeline.change(atMs, 1);
  }

  /** Attempts per row the fleet meant to start between `fromMs` and `toMs` (ms since the run began); fractional. */
  offeredBetween(fromMs: number, toMs: number, into: Map<StatsEntry, number>): Map<StatsEntry, number> {
    if (toMs <= fromMs) return into;
    const starts = this.startsBetween(fromMs, toMs);
    for (const offer of this.offers) {
      const deviceSeconds = offer.capMs === undefined ? this.deviceMs(fromMs, toMs) / 1000 : this.cappedDeviceMs(fromMs, toMs, offer.capMs) / 1000;
      const down = this.down.get(offer);
      // Down devices are counts of this entry's own devices, not shares of the population.
      const downSeconds = down ? (down.integral(toMs) - down.integral(fromMs)) / 1000 : 0;
      const reboots = this.reboots.get(offer);
      const rebootStarts = reboots ? reboots.risesBy(toMs) - reboots.risesBy(fromMs) : 0;
      for (const [entry, perDeviceS] of offer.perSecond) add(into, entry, perDeviceS * Math.max(0, deviceSeconds * offer.share - downSeconds));
      for (const [entry, perStart] of offer.perStart) add(into, entry, perStart * (starts * offer.share + rebootStarts));
    }
    return into;
  }

  /** ∫ population dt over [fromMs, toMs], in device-ms. */
  private deviceMs(fromMs: number, toMs: number): number {
    return this.integral(toMs) - this.integral(fromMs);
  }

  /**
   * Device-ms over [fromMs, toMs] when each device stops after `capMs` of tasks (`--iterations`):
   * a device started at s contributes min(t - s, cap). The shapes that allow iterations only grow, so
   * this is ∫₀ᵗ P minus ∫₀^(t−cap) P.
   */
  private cappedDeviceMs(fromMs: number, toMs: number, capMs: number): number {
    const upTo = (t: number): number => this.integral(t) - this.integral(t - capMs);
    return upTo(toMs) - upTo(fromMs);
  }

  /** ∫₀ᵗ population. */
  private integral(t: number): number {
    let sum = 0;
    for (let i = 0; i < this.segments.length; i++) {
      const segment = this.segments[i] as RampSegment;
      const end = Math.min(t, this.segments[i + 1]?.startMs ?? Infinity);
      if (end <= segment.startMs) break;
      sum += segmentIntegral(segment, end - segment.startMs);
    }
    return sum;
  }

  /** Devices the shape started between the two times. */
  private startsBetween(fromMs: number, toMs: number): number {
    let starts = 0;
    for (let i = 0; i < this.segments.length; i++) {
      const segment = this.segments[i] as RampSegment;
      if (segment.goal <= segment.from) continue;
      const next = this.segments[i + 1]?.startMs ?? Infinity;
      const steps = segment.goal - segment.from;
      // A step due at exactly the segment's start belongs to it: count from just before.
      const at = (t: number): number => (t < segment.startMs ? 0 : rampStepsDue(steps, segment.overMs, Math.min(t, next) - segment.startMs));
      starts += at(toMs) - at(fromMs);
    }
    return starts;
  }
}

interface RampSegment {
  readonly startMs: number;
  readonly from: number;
  readonly goal: number;
  readonly overMs: number;
}

interface ModelOffer {
  /** This model's share of any prefix of the population (entries interleave in proportion). */
  readonly share: number;
  /** Attempts per running device per second, by row. */
  readonly perSecond: readonly (readonly [StatsEntry, number])[];
  /** Attempts per device start (boot tasks), by row. */
  readonly perStart: readonly (readonly [StatsEntry, number])[];
  /** With `--iterations`: how long a device's iterations take against an instant target. */
  readonly capMs: number | undefined;
  /** Mean time between a device's tasks against an instant target (0 with no tasks or no wait). */
  readonly cycleMs: number;
}

/** ∫₀ᵀ of one segment's population: `from` plus the ramp's steps due (one step ahead of the line, as Ramp moves). */
function segmentIntegral(segment: RampSegment, elapsed: number): number {
  const steps = Math.abs(segment.goal - segment.from);
  const sign = Math.sign(segment.goal - segment.from);
  let stepped: number;
  if (steps === 0) stepped = 0;
  else if (segment.overMs <= 0) stepped = steps * elapsed;
  else {
    // Step k (0-based) is due from k·over/steps: Σ over due steps of (T − due time).
    const due = Math.min(steps, Math.floor((elapsed * steps) / segment.overMs) + 1);
    stepped = due * elapsed - (segment.overMs / steps) * ((due * (due - 1)) / 2);
  }
  return segment.from * elapsed + sign * stepped;
}

/** Mean wait after a task, in ms; for open models the period. */
function meanWaitMs(wait: WaitModel): number {
  switch (wait.model) {
    case 'constant':
      return wait.timeMs;
    case 'between':
      return (wait.minMs + wait.maxMs) / 2;
    case 'pacing':
      return wait.intervalMs;
    case 'throughput':
      return 1000 / wait.perSecond;
  }
}

/** The mean round trip a fleet entry's declared links add (0 without any): part of the plan, as the wait is. */
function meanRoundTripMs(mix: NetworkMix | undefined): number {
  return (mix ?? []).reduce((sum, entry) => sum + entry.share * 2 * entry.link.latencyMs, 0);
}

/**
 * Attempts per row that one run of the task makes, and the time its own sleeps take, with the
 * round trips over a declared link it waits for: one per HTTP attempt, one per MQTT step (a
 * burst's publishes share theirs).
 */
function taskRows(task: TaskSpec, entryFor: (type: string, name: string) => StatsEntry, roundTripMs = 0): { rows: Map<StatsEntry, number>; sleepMs: number } {
  const rows = new Map<StatsEntry, number>();
  let sleepMs = 0;
  for (const step of task.steps) {
    add(rows, entryFor(actionType(step.action), step.name), step.repeat);
    const trips = step.action.kind === 'http' || step.sleepMs > 0 ? step.repeat : 1;
    sleepMs += step.repeat * step.sleepMs + trips * roundTripMs;
  }
  return { rows, sleepMs };
}

function modelOffer(model: DeviceModel, share: number, iterations: number | undefined, entryFor: (type: string, name: string) => StatsEntry, roundTripMs: number): ModelOffer {
  const perSecond = new Map<StatsEntry, number>();
  const perStart = new Map<StatsEntry, number>();
  for (const task of model.boot) for (const [entry, count] of taskRows(task, entryFor).rows) add(perStart, entry, count);
  let tasksPerS = 0;
  let cycleMs = 0;
  const tasks = model.tasks;
  if (tasks.length > 0 && tasks.every((task) => task.everyMs !== undefined)) {
    for (const task of tasks) {
      const rate = 1000 / (task.everyMs as number);
      tasksPerS += rate;
      cycleMs = Math.max(cycleMs, task.everyMs as number);
      for (const [entry, count] of taskRows(task, entryFor).rows) add(perSecond, entry, count * rate);
    }
  } else if (tasks.length > 0) {
    const totalWeight = tasks.reduce((sum, task) => sum + task.weight, 0);
    const picks = tasks.map((task) => ({ share: totalWeight > 0 ? task.weight / totalWeight : 0, ...taskRows(task, entryFor, roundTripMs) }));
    const meanSleep = picks.reduce((sum, pick) => sum + pick.share * pick.sleepMs, 0);
    const open = model.wait.model === 'pacing' || model.wait.model === 'throughput';
    // Against an instant target a closed model's cycle is its wait plus the task's own sleeps; an open one's is its period, unless the sleeps alone overrun it.
    cycleMs = open ? Math.max(meanWaitMs(model.wait), meanSleep) : meanWaitMs(model.wait) + meanSleep;
    tasksPerS = cycleMs > 0 ? 1000 / cycleMs : 0;
    if (cycleMs > 0) for (const pick of picks) for (const [entry, count] of pick.rows) add(perSecond, entry, (count * pick.share * 1000) / cycleMs);
  }
  const capMs = iterations === undefined ? undefined : tasksPerS > 0 ? (iterations / tasksPerS) * 1000 : 0;
  return { share, perSecond: [...perSecond], perStart: [...perStart], capMs, cycleMs };
}

function add(map: Map<StatsEntry, number>, entry: StatsEntry, value: number): void {
  map.set(entry, (map.get(entry) ?? 0) + value);
}
