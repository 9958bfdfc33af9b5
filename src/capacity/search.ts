import { EventEmitter } from 'node:events';
import { evaluateThresholds } from '../metrics/evaluate-thresholds.ts';
import type { HistoryPoint } from '../metrics/history.ts';
import { buildRows } from '../metrics/results.ts';
import { loadVerdict } from '../metrics/load-verdict.ts';
import type { LoadCause } from '../metrics/load-verdict.ts';
import type { GeneratorHealth } from '../metrics/generator-monitor.ts';
import type { StatsRow, ThresholdResult } from '../metrics/results.ts';
import type { RunStats, StatsWindow } from '../metrics/stats.ts';
import { planSteps } from './steps.ts';
import type { StepPlan } from './steps.ts';

/** What the search steers: a running fleet whose size it changes without restarting it. */
export interface SteerableRun {
  readonly stats: RunStats;
  readonly online: number;
  readonly stopping: boolean;
  rampTo(devices: number, overMs: number): void;
  on(event: 'interval', listener: (point: HistoryPoint) => void): unknown;
  off(event: 'interval', listener: (point: HistoryPoint) => void): unknown;
}

export interface CapacityOptions {
  /** Threshold expressions, each judged on a step's own window. */
  readonly slos: readonly string[];
  readonly plan: StepPlan;
  /** Intervals (seconds) measured per step, after the settle time. */
  readonly stepIntervals: number;
  /** Intervals after a step's ramp ends before its window opens. */
  readonly settleIntervals: number;
  /** Devices started per second while stepping up. */
  readonly spawnRate: number;
  /** Bisect between the last passing and the first failing step. */
  readonly refine: boolean;
  /** The share of the offered load a step must deliver to pass; null: only the SLOs judge. */
  readonly minDelivered: number | null;
  /** Measure the last passing and the first failing step this many more times each, to show the knee's spread. */
  readonly repeat: number;
  /** How many times a step that fell short for fleetsim's or the machine's reason is measured again before the search gives up. */
  readonly retries?: number;
}

export interface StepGenerator {
  /** Event-loop busy share over the step's window, and its busiest interval. */
  readonly busyPercent: number;
  /** Share of the window fleetsim's main thread waited for a CPU (Linux). */
  readonly runQueuePercent?: number;
  readonly maxBusyPercent: number;
  readonly maxLagP99Ms: number;
  readonly saturatedIntervals: number;
  readonly intervals: number;
}

export interface CapacityStep {
  readonly devices: number;
  /** What the step meant to offer (req/s or msg/s on the SLOs' row), and delivered ÷ offered; null when the plan offers no fixed rate. */
  readonly offeredRps: number | null;
  /** What the step delivered on the offered rows, per second: the numerator of `deliveredShare`. */
  readonly deliveredRps: number | null;
  readonly deliveredShare: number | null;
  /** Whose limit it was when the step fell short of its offered load (`delivered` when it did not). */
  readonly cause: LoadCause;
  /** A repeat of an earlier step: a retry after a shortfall that was not the target's, or `--repeat` around the knee. */
  readonly repeat?: 'retry' | 'knee';
  /** Devices online when the step's window closed. */
  readonly online: number;
  readonly rps: number;
  readonly requests: number;
  readonly latencyMs: StatsRow['latencyMs'];
  readonly failureRate: number;
  readonly timeoutRate: number;
  readonly ok: boolean;
  readonly generator: StepGenerator;
  readonly failedSlos: readonly string[];
  readonly slos: readonly ThresholdResult[];
  /** The row the SLOs' rate and latency were read from (the bare thresholds' row). */
  readonly row: string;
  /** Seconds since the run's start at which the window opened and closed. */
  readonly windowS: readonly [number, number];
  /** A bisection step between the last passing and the first failing one. */
  readonly refined: boolean;
}

/**
 * `interrupted`: the search was stopped (Ctrl-C) before a step failed or the largest step passed.
 * `host` and `queues`: the first failing step fell short, on every retry, because the machine gave
 * fleetsim too little CPU or requests waited for fleetsim's own connections: inconclusive about the target.
 */
export type LimitedBy = 'target' | 'generator' | 'host' | 'queues' | 'max-devices' | 'interrupted';

/** The knee measured again (`--repeat`): how often each side passed, and the rates it reached. */
export interface KneeRepeat {
  readonly devices: number;
  readonly passed: number;
  readonly of: number;
  readonly rps: { readonly min: number; readonly max: number };
}

export interface CapacityResult {
  readonly schema: 'fleetsim.capacity/v1';
  readonly capacity: { readonly devices: number; readonly rps: number } | null;
  readonly limitedBy: LimitedBy;
  readonly slos: readonly string[];
  /** The floor each step's delivered share was held to; null when off. */
  readonly minDelivered: number | null;
  readonly steps: readonly CapacityStep[];
  /** The step (index into `steps`) whose failure ended the stepping up and decided `limitedBy`. */
  readonly firstFailing?: number;
  /** With `--repeat`: the last passing and first failing steps measured again, and whether the knee held. */
  readonly knee?: { readonly repeats: readonly KneeRepeat[]; readonly stable: boolean };
}

export interface CapacityEvents {
  /** A step's load is being applied. */
  stepStarted: [devices: number, refined: boolean];
  step: [step: CapacityStep];
}

/**
 * A failing step is the generator's when at least this share of its intervals had fleetsim's own
 * event loop saturated: one GC pause must not turn a target's limit into a generator verdict.
 */
const GENERATOR_SATURATED_SHARE = 0.25;

/**
 * Steps the fleet up without restarting it, judges every step on its own window after a settle
 * time, and stops at the first failing step; the largest passing step is the capacity. It says
 * whose limit that was: the target's, or the generator's when its own event loop was saturated.
 */
export class CapacitySearch extends EventEmitter<CapacityEvents> {
  private readonly steps: CapacityStep[] = [];
  /** The device count the fleet was last moved to. */
  private current = 0;

  constructor(
    private readonly run: SteerableRun,
    private readonly options: CapacityOptions,
  ) {
    super();
  }

  async search(): Promise<CapacityResult> {
    let lastPass: CapacityStep | undefined;
    /** The first step that failed while stepping up: it alone decides whose limit the knee is. */
    let firstFail: CapacityStep | undefined;
    let stopped = false;
    for (const devices of planSteps(this.options.plan)) {
      const step = await this.measureJudged(devices, false);
      if (!step) {
        stopped = true;
        break;
      }
      if (!step.ok) {
        firstFail = step;
        break;
      }
      lastPass = step;
    }
    // Bisection narrows the capacity; it never changes whose limit the first failing step found.
    let highFail = firstFail;
    if (firstFail && this.options.refine && firstFail.cause !== 'host' && firstFail.cause !== 'queues') {
      let low = lastPass?.devices ?? 0;
      let high = firstFail.devices;
      const resolution = Math.max(1, Math.floor((high - low) / 8));
      while (high - low > resolution && !this.run.stopping) {
        const middle = Math.floor((low + high) / 2);
        const step = await this.measureJudged(middle, true);
        if (!step) {
          stopped = true;
          break;
        }
        if (step.ok) {
          low = middle;
          lastPass = step;
        } else {
          high = middle;
          highFail = step;
        }
      }
    }
    const knee = !stopped && this.options.repeat > 0 ? await this.repeatKnee(lastPass, highFail) : undefined;
    return this.result(lastPass, firstFail, stopped, knee);
  }

  private result(lastPass: CapacityStep | undefined, firstFail: CapacityStep | undefined, stopped: boolean, knee: CapacityResult['knee']): CapacityResult {
    const limitedBy: LimitedBy = firstFail ? failingLimit(firstFail) : stopped ? 'interrupted' : 'max-devices';
    return {
      schema: 'fleetsim.capacity/v1',
      capacity: lastPass ? { devices: lastPass.devices, rps: lastPass.rps } : null,
      limitedBy,
      slos: this.options.slos,
      minDelivered: this.options.minDelivered,
      steps: this.steps,
      ...(firstFail ? { firstFailing: this.steps.indexOf(firstFail) } : {}),
      ...(knee ? { knee } : {}),
    };
  }

  /**
   * Measures a step; one that failed short of its load for a reason that is not the target's (the
   * machine's CPU, fleetsim's queue) is measured again, up to `retries` times, so a busy moment on
   * the machine is not taken for the target's limit.
   */
  private async measureJudged(devices: number, refined: boolean): Promise<CapacityStep | undefined> {
    let step = await this.measure(devices, refined, undefined);
    for (let retry = 0; step && !step.ok && retriable(step) && retry < (this.options.retries ?? DEFAULT_RETRIES) && !this.run.stopping; retry++) {
      step = await this.measure(devices, refined, 'retry');
    }
    return step;
  }

  /** `--repeat`: the steps either side of the knee, measured again, each from a little below, as the search reached them. */
  private async repeatKnee(lastPass: CapacityStep | undefined, firstFail: CapacityStep | undefined): Promise<CapacityResult['knee']> {
    const sides = [lastPass, firstFail].filter((step): step is CapacityStep => step !== undefined);
    const repeats: KneeRepeat[] = [];
    for (const side of sides) {
      const measured: CapacityStep[] = [side];
      for (let i = 0; i < this.options.repeat && !this.run.stopping; i++) {
        const step = await this.measure(side.devices, side.refined, 'knee');
        if (!step) break;
        measured.push(step);
      }
      const rates = measured.map((step) => step.rps);
      repeats.push({ devices: side.devices, passed: measured.filter((step) => step.ok).length, of: measured.length, rps: { min: Math.min(...rates), max: Math.max(...rates) } });
    }
    const [pass, fail] = [repeats[0], repeats[1]];
    const stable = (!lastPass || pass?.passed === pass?.of) && (!firstFail || (lastPass ? fail : pass)?.passed === 0);
    return { repeats, stable };
  }

  /** Moves the fleet to `devices`, lets it settle, and judges one window; undefined when the run stopped. */
  private async measure(devices: number, refined: boolean, repeat: CapacityStep['repeat']): Promise<CapacityStep | undefined> {
    this.emit('stepStarted', devices, refined);
    const from = this.current;
    const rampMs = devices > from ? ((devices - from) / this.options.spawnRate) * 1000 : 0;
    this.run.rampTo(devices, rampMs);
    this.current = devices;
    if (!(await this.intervals(Math.ceil(rampMs / 1000) + this.options.settleIntervals))) return undefined;
    const window = this.run.stats.openWindow();
    let points = await this.intervals(Math.max(1, this.options.stepIntervals));
    let judged = points && this.judge(devices, window, points, refined, false);
    // Below the floor, but by no more than counting noise: measure longer rather than guess, then judge on the floor itself.
    for (let extension = 0; points && judged && withinNoise(judged, this.options.minDelivered); extension++) {
      const more = extension < NOISE_EXTENSIONS ? await this.intervals(Math.max(1, this.options.stepIntervals)) : [];
      if (!more) points = undefined;
      else {
        points = [...points, ...more];
        judged = this.judge(devices, window, points, refined, extension >= NOISE_EXTENSIONS - 1 || more.length === 0);
      }
      if (more?.length === 0) break;
    }
    this.run.stats.closeWindow(window);
    if (!points || !judged) return undefined;
    const step = repeat ? { ...judged, repeat } : judged;
    this.steps.push(step);
    this.emit('step', step);
    return step;
  }

  /** `strict`: the floor itself decides, counting noise or not (a step measured as long as it will be). */
  private judge(devices: number, window: StatsWindow, points: readonly HistoryPoint[], refined: boolean, strict: boolean): CapacityStep {
    const rows = buildRows(window.entries, window.seconds);
    const slos = evaluateThresholds(rows, this.options.slos);
    const read = rows.types.find((row) => row.name === rows.bareThresholdsRead) ?? rows.total;
    const first = points[0] as HistoryPoint;
    const last = points.at(-1) as HistoryPoint;
    // Held to the load it meant to offer, on the whole fleet's offered rows (the run's own verdict, for one window).
    const load =
      rows.total.offered === undefined
        ? undefined
        : loadVerdict({
            floor: this.options.minDelivered,
            offered: rows.total.offered,
            delivered: rows.total.delivered ?? 0,
            seconds: window.seconds,
            intervals: window.loads,
            generator: windowHealth(window),
            queue: rows.total.queuedMs?.mean != null && rows.total.latencyMs.mean !== null ? { queuedMeanMs: rows.total.queuedMs.mean, latencyMeanMs: rows.total.latencyMs.mean } : undefined,
            unit: 'attempts/s',
            noise: this.run.stats.loadNoise,
            strict,
          });
    const cause: LoadCause = load?.cause ?? 'delivered';
    const saturated = window.intervals > 0 && window.saturatedIntervals / window.intervals >= GENERATOR_SATURATED_SHARE;
    return {
      devices,
      offeredRps: load ? load.offeredRps : null,
      deliveredRps: load ? load.deliveredRps : null,
      deliveredShare: load ? load.deliveredShare : null,
      // A saturated loop is the generator's limit even when the share held.
      cause: cause === 'delivered' || cause === 'target' ? (saturated && !slos.every((slo) => slo.ok) ? 'generator' : cause) : cause,
      online: last.devicesOnline,
      rps: read.rps,
      requests: read.requests,
      latencyMs: read.latencyMs,
      failureRate: read.requests === 0 ? 0 : round6(read.failures / read.requests),
      timeoutRate: read.requests === 0 ? 0 : round6(read.timeouts / read.requests),
      ok: slos.every((slo) => slo.ok) && cause === 'delivered',
      generator: {
        busyPercent: window.busyPercent,
        ...(window.runQueuePercent === undefined ? {} : { runQueuePercent: window.runQueuePercent }),
        maxBusyPercent: window.maxBusyPercent,
        maxLagP99Ms: window.maxLagP99Ms,
        saturatedIntervals: window.saturatedIntervals,
        intervals: window.intervals,
      },
      failedSlos: slos.filter((slo) => !slo.ok).map((slo) => slo.expr),
      slos,
      row: rows.bareThresholdsRead,
      windowS: [Math.round((first.atS - first.intervalS) * 1000) / 1000, last.atS],
      refined,
    };
  }

  /** Resolves with the next `count` intervals, or undefined if the run stops first. */
  private intervals(count: number): Promise<HistoryPoint[] | undefined> {
    const points: HistoryPoint[] = [];
    if (count === 0) return Promise.resolve(points);
    return new Promise((resolve) => {
      const onInterval = (point: HistoryPoint): void => {
        if (this.run.stopping) {
          this.run.off('interval', onInterval);
          return resolve(undefined);
        }
        points.push(point);
        if (points.length < count) return;
        this.run.off('interval', onInterval);
        resolve(points);
      };
      this.run.on('interval', onInterval);
    });
  }
}

export function generatorLimited(step: CapacityStep): boolean {
  return step.cause === 'generator' || (step.generator.intervals > 0 && step.generator.saturatedIntervals / step.generator.intervals >= GENERATOR_SATURATED_SHARE);
}

/** Whose limit a failing step was: never the target's when fleetsim or the machine fell short. */
function failingLimit(step: CapacityStep): LimitedBy {
  if (step.cause === 'host' || step.cause === 'queues') return step.cause;
  return generatorLimited(step) ? 'generator' : 'target';
}

/** A failing step worth measuring again: it fell short because of the machine, fleetsim's loop or its queue, not the target. */
function retriable(step: CapacityStep): boolean {
  return step.cause === 'host' || step.cause === 'queues' || step.cause === 'generator';
}

/** A step below the floor by no more than counting noise is measured this many windows longer before the floor decides. */
const NOISE_EXTENSIONS = 2;

/** Below the floor, but not short beyond counting noise: a longer window will tell. */
function withinNoise(step: CapacityStep, floor: number | null): boolean {
  return floor !== null && step.deliveredShare !== null && step.deliveredShare < floor && step.cause === 'delivered';
}

/** A failing step is measured again this many times when it fell short for fleetsim's or the machine's reason. */
const DEFAULT_RETRIES = 1;

/** A window's generator readings in the shape the load verdict reads (its host figures come from the intervals' own judgements). */
function windowHealth(window: StatsWindow): GeneratorHealth {
  return {
    cpuPercent: window.busyPercent,
    maxRssBytes: 0,
    eventLoopLagP99Ms: window.maxLagP99Ms,
    eventLoopBusyPercent: window.busyPercent,
    ...(window.runQueuePercent === undefined ? {} : { runQueuePercent: window.runQueuePercent }),
  };
}

const round6 = (value: number): number => Math.round(value * 1e6) / 1e6;
