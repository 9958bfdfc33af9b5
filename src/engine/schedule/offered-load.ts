import type { LoadNoise } from '../../metrics/load-verdict.ts';
import type { StatsEntry } from '../../metrics/stats.ts';
import { actionType } from '../../profile/types.ts';
import type { DeviceModel, FleetEntry, TaskSpec, WaitModel } from '../../profile/types.ts';
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
  private readonly offers: (ModelOffer & { readonly devices: number })[];
  /** Each fleet entry's offer (undefined for an empty entry), and its devices' lifecycle: off the network, and reboots. */
  private readonly offerOfEntry: ((ModelOffer & { readonly devices: number }) | undefined)[];
  private readonly down = new Map<ModelOffer, DownTimeline>();
  private readonly reboots = new Map<ModelOffer, DownTimeline>();
  private readonly segments: RampSegment[] = [];
  /** Entries a model offers load on: the rows whose requests count as delivered. */
  readonly offeredEntries: ReadonlySet<StatsEntry>;
  /** The longest task period of any model, ms: a share judged over less would see a paced fleet's lumps. */
  readonly longestCycleMs: number;
  /** Booked on the rows up to here (ms since the run began); see bookUntil. */
  private bookedUntilMs = 0;
  private readonly booking = new Map<StatsEntry, number>();

  /**
   * `devices` places this process's devices (0..count-1, the population's order) in the fleet's
   * entries. A mixed fleet is not interleaved evenly (devices that only listen come first), so each
   * model's share of a population prefix is counted, not assumed.
   */
  constructor(
    fleet: readonly FleetEntry[],
    iterations: number | undefined,
    entryFor: (type: string, name: string) => StatsEntry,
    devices?: { readonly count: number; entryOf(local: number): number },
  ) {
    const mixed = fleet.filter((entry) => entry.count > 0).length > 1 && devices !== undefined;
    this.offerOfEntry = fleet.map((entry, index) =>
      entry.count > 0
        ? { ...modelOffer(entry.model, mixed && devices ? prefixCounts(devices, index) : undefined, iterations, entryFor, meanRoundTripMs(entry.network ?? entry.model.network)), devices: entry.count }
        : undefined,
    );
    this.offers = this.offerOfEntry.filter((offer) => offer !== undefined);
    this.offeredEntries = new Set(this.offers.flatMap((offer) => [...offer.perSecond, ...offer.perStart].map(([entry]) => entry)));
    for (const entry of this.offeredEntries) entry.offers = true;
    this.longestCycleMs = Math.max(0, ...this.offers.map((offer) => offer.cycleMs));
    // Weighted by each model's devices: one bursty device beside 10,000 single-shot ones is not a lumpy fleet.
    const tasks = this.offers.reduce((sum, offer) => sum + offer.devices * offer.tasksPerS, 0);
    const attempts = this.offers.reduce((sum, offer) => sum + offer.devices * offer.perSecond.reduce((rows, [, rate]) => rows + rate, 0), 0);
    // A task's mean cycle and its spread, weighted by the tasks each model starts.
    const cycleS = tasks > 0 ? this.offers.reduce((sum, offer) => sum + offer.devices * offer.tasksPerS * (offer.cycleMs / 1000), 0) / tasks : 0;
    const cv2 = tasks > 0 ? this.offers.reduce((sum, offer) => sum + offer.devices * offer.tasksPerS * offer.cv2, 0) / tasks : 1;
    this.noise = { lump: tasks > 0 ? attempts / tasks : 1, cycleS, cv2 };
    this.closedModels = fleet.some(
      (entry) =>
        entry.count > 0 &&
        entry.model.tasks.length > 0 &&
        entry.model.tasks.some((task) => task.everyMs === undefined) &&
        (entry.model.wait.model === 'constant' || entry.model.wait.model === 'between'),
    );
  }

  /** Some model waits after each answer (`constant`, `between`): a slow answer lowers its rate, and the verdict says so. */
  readonly closedModels: boolean;

  /** How the offered count varies by chance: attempts per task (a burst of 10 publishes is one task), the cycle and its spread. */
  readonly noise: LoadNoise;

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

  /** Attempts per row the fleet meant to start in [fromMs, toMs) (ms since the run began); fractional. */
  offeredBetween(fromMs: number, toMs: number, into: Map<StatsEntry, number>): Map<StatsEntry, number> {
    if (toMs <= fromMs) return into;
    for (const offer of this.offers) {
      // The capped form assumes a population that only grows; a shape lowered under --iterations (the UI) must not book negative load.
      const deviceSeconds = Math.max(0, (offer.capMs === undefined ? this.deviceMs(fromMs, toMs, offer.prefix) : this.cappedDeviceMs(fromMs, toMs, offer.capMs, offer.prefix)) / 1000);
      const down = this.down.get(offer);
      // Down devices are counts of this entry's own devices, as the device-time above is.
      const downSeconds = down ? (down.integral(toMs) - down.integral(fromMs)) / 1000 : 0;
      for (const [entry, perDeviceS] of offer.perSecond) add(into, entry, perDeviceS * Math.max(0, deviceSeconds - downSeconds));
      if (offer.perStart.length === 0) continue;
      const reboots = this.reboots.get(offer);
      const rebootStarts = reboots ? reboots.risesBy(toMs) - reboots.risesBy(fromMs) : 0;
      const starts = this.startsBetween(fromMs, toMs, offer.prefix);
      for (const [entry, perStart] of offer.perStart) add(into, entry, perStart * (starts + rebootStarts));
    }
    return into;
  }

  /** Books what the shape meant to start up to `untilMs` on the rows: the load offered, however much of it was sent. */
  bookUntil(untilMs: number): void {
    if (untilMs <= this.bookedUntilMs) return;
    this.offeredBetween(this.bookedUntilMs, untilMs, this.booking);
    for (const [entry, count] of this.booking) entry.offer(count);
    this.booking.clear();
    this.bookedUntilMs = untilMs;
  }

  /** ∫ (the offer's devices in the population) dt over [fromMs, toMs], in device-ms. */
  private deviceMs(fromMs: number, toMs: number, prefix: Uint32Array | undefined): number {
    return this.integral(toMs, prefix) - this.integral(fromMs, prefix);
  }

  /**
   * Device-ms over [fromMs, toMs] when each device stops after `capMs` of tasks (`--iterations`):
   * a device started at s contributes min(t - s, cap). The shapes that allow iterations only grow, so
   * this is ∫₀ᵗ P minus ∫₀^(t−cap) P.
   */
  private cappedDeviceMs(fromMs: number, toMs: number, capMs: number, prefix: Uint32Array | undefined): number {
    const upTo = (t: number): number => this.integral(t, prefix) - this.integral(t - capMs, prefix);
    return upTo(toMs) - upTo(fromMs);
  }

  /** ∫₀ᵗ of the population (or, with `prefix`, of one model's devices in it). */
  private integral(t: number, prefix: Uint32Array | undefined): number {
    let sum = 0;
    for (let i = 0; i < this.segments.length; i++) {
      const segment = this.segments[i] as RampSegment;
      const end = Math.min(t, this.segments[i + 1]?.startMs ?? Infinity);
      if (end <= segment.startMs) break;
      sum += prefix ? walkedIntegral(segment, end - segment.startMs, prefix) : segmentIntegral(segment, end - segment.startMs);
    }
    return sum;
  }

  /** Devices (of one model, with `prefix`) the shape started in [fromMs, toMs). */
  private startsBetween(fromMs: number, toMs: number, prefix: Uint32Array | undefined): number {
    let starts = 0;
    for (let i = 0; i < this.segments.length; i++) {
      const segment = this.segments[i] as RampSegment;
      if (segment.goal <= segment.from) continue;
      const next = this.segments[i + 1]?.startMs ?? Infinity;
      const at = (t: number): number => {
        const population = segment.from + stepsDueBefore(segment, Math.min(t, next) - segment.startMs);
        return prefix ? (prefix[population] ?? 0) : population;
      };
      starts += at(toMs) - at(fromMs);
    }
    return starts;
  }
}

/** For each population p (this process's first p devices), how many belong to fleet entry `entry`. */
function prefixCounts(devices: { readonly count: number; entryOf(local: number): number }, entry: number): Uint32Array {
  const counts = new Uint32Array(devices.count + 1);
  for (let local = 0; local < devices.count; local++) counts[local + 1] = (counts[local] ?? 0) + (devices.entryOf(local) === entry ? 1 : 0);
  return counts;
}

/** Steps of a ramp due strictly before `elapsed` ms into it (Ramp's schedule: step k at k·over/steps). */
function stepsDueBefore(segment: RampSegment, elapsed: number): number {
  const steps = Math.abs(segment.goal - segment.from);
  if (elapsed <= 0 || steps === 0) return 0;
  if (segment.overMs <= 0) return steps;
  return Math.min(steps, Math.ceil((elapsed * steps) / segment.overMs));
}

/** ∫₀ᵀ of one model's devices in a segment's population, walking its steps (for mixed fleets). */
function walkedIntegral(segment: RampSegment, elapsed: number, prefix: Uint32Array): number {
  const steps = Math.abs(segment.goal - segment.from);
  const sign = Math.sign(segment.goal - segment.from);
  const countAt = (done: number): number => prefix[segment.from + sign * done] ?? 0;
  if (steps === 0) return countAt(0) * elapsed;
  if (segment.overMs <= 0) return countAt(steps) * elapsed;
  let sum = 0;
  let t = 0;
  // Step k is due at k·over/steps and takes effect then: the count after d steps holds until step d's time.
  for (let done = 1; done <= steps; done++) {
    const nextAt = (done * segment.overMs) / steps;
    const until = Math.min(elapsed, done === steps ? Infinity : nextAt);
    if (until > t) sum += countAt(done) * (until - t);
    t = until;
    if (t >= elapsed) break;
  }
  return sum;
}

interface RampSegment {
  readonly startMs: number;
  readonly from: number;
  readonly goal: number;
  readonly overMs: number;
}

interface ModelOffer {
  /** For a mixed fleet, this model's devices among the first p of the population; absent when it is the whole fleet. */
  readonly prefix: Uint32Array | undefined;
  /** Attempts per running device per second, by row. */
  readonly perSecond: readonly (readonly [StatsEntry, number])[];
  /** Attempts per device start (boot tasks), by row. */
  readonly perStart: readonly (readonly [StatsEntry, number])[];
  /** With `--iterations`: how long a device's iterations take against an instant target. */
  readonly capMs: number | undefined;
  /** Mean time between a device's tasks against an instant target (0 with no tasks or no wait). */
  readonly cycleMs: number;
  /** Tasks a device starts per second against an instant target. */
  readonly tasksPerS: number;
  /** The squared coefficient of variation of a device's cycle: 0 for fixed periods, (max-min)²/12/mean² for `between`. */
  readonly cv2: number;
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

function modelOffer(model: DeviceModel, prefix: Uint32Array | undefined, iterations: number | undefined, entryFor: (type: string, name: string) => StatsEntry, roundTripMs: number): ModelOffer {
  const perSecond = new Map<StatsEntry, number>();
  const perStart = new Map<StatsEntry, number>();
  for (const task of model.boot) for (const [entry, count] of taskRows(task, entryFor).rows) add(perStart, entry, count);
  let tasksPerS = 0;
  let cycleMs = 0;
  let cv2 = 0;
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
    if (model.wait.model === 'between' && cycleMs > 0) cv2 = (model.wait.maxMs - model.wait.minMs) ** 2 / 12 / cycleMs ** 2;
    tasksPerS = cycleMs > 0 ? 1000 / cycleMs : 0;
    if (cycleMs > 0) for (const pick of picks) for (const [entry, count] of pick.rows) add(perSecond, entry, (count * pick.share * 1000) / cycleMs);
  }
  const capMs = iterations === undefined ? undefined : tasksPerS > 0 ? (iterations / tasksPerS) * 1000 : 0;
  return { prefix, perSecond: [...perSecond], perStart: [...perStart], capMs, cycleMs, tasksPerS, cv2 };
}

function add(map: Map<StatsEntry, number>, entry: StatsEntry, value: number): void {
  map.set(entry, (map.get(entry) ?? 0) + value);
}
