import { EventEmitter } from 'node:events';
import { evaluateThresholds } from '../metrics/evaluate-thresholds.ts';
import type { HistoryPoint } from '../metrics/history.ts';
import { buildRows } from '../metrics/results.ts';
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
}

export interface StepGenerator {
  /** Event-loop busy share over the step's window, and its busiest interval. */
  readonly busyPercent: number;
  readonly maxBusyPercent: number;
  readonly maxLagP99Ms: number;
  readonly saturatedIntervals: number;
  readonly intervals: number;
}

export interface CapacityStep {
  readonly devices: number;
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

/** `interrupted`: the search was stopped (Ctrl-C) before a step failed or the largest step passed. */
export type LimitedBy = 'target' | 'generator' | 'max-devices' | 'interrupted';

export interface CapacityResult {
  readonly schema: 'fleetsim.capacity/v1';
  readonly capacity: { readonly devices: number; readonly rps: number } | null;
  readonly limitedBy: LimitedBy;
  readonly slos: readonly string[];
  readonly steps: readonly CapacityStep[];
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

  constructor(
    private readonly run: SteerableRun,
    private readonly options: CapacityOptions,
  ) {
    super();
  }

  async search(): Promise<CapacityResult> {
    let lastPass: CapacityStep | undefined;
    let firstFail: CapacityStep | undefined;
    let current = 0;
    let stopped = false;
    for (const devices of planSteps(this.options.plan)) {
      const step = await this.measure(current, devices, false);
      if (!step) {
        stopped = true;
        break;
      }
      current = devices;
      if (!step.ok) {
        firstFail = step;
        break;
      }
      lastPass = step;
    }
    if (firstFail && this.options.refine) {
      let low = lastPass?.devices ?? 0;
      let high = firstFail.devices;
      const resolution = Math.max(1, Math.floor((high - low) / 8));
      while (high - low > resolution && !this.run.stopping) {
        const middle = Math.floor((low + high) / 2);
        const step = await this.measure(current, middle, true);
        if (!step) {
          stopped = true;
          break;
        }
        current = middle;
        if (step.ok) {
          low = middle;
          lastPass = step;
        } else {
          high = middle;
          firstFail = step;
        }
      }
    }
    return this.result(lastPass, firstFail, stopped);
  }

  private result(lastPass: CapacityStep | undefined, firstFail: CapacityStep | undefined, stopped: boolean): CapacityResult {
    const limitedBy: LimitedBy = firstFail ? (generatorLimited(firstFail) ? 'generator' : 'target') : stopped ? 'interrupted' : 'max-devices';
    return {
      schema: 'fleetsim.capacity/v1',
      capacity: lastPass ? { devices: lastPass.devices, rps: lastPass.rps } : null,
      limitedBy,
      slos: this.options.slos,
      steps: this.steps,
    };
  }

  /** Moves the fleet to `devices`, lets it settle, and judges one window; undefined when the run stopped. */
  private async measure(from: number, devices: number, refined: boolean): Promise<CapacityStep | undefined> {
    this.emit('stepStarted', devices, refined);
    const rampMs = devices > from ? ((devices - from) / this.options.spawnRate) * 1000 : 0;
    this.run.rampTo(devices, rampMs);
    if (!(await this.intervals(Math.ceil(rampMs / 1000) + this.options.settleIntervals))) return undefined;
    const window = this.run.stats.openWindow();
    const points = await this.intervals(Math.max(1, this.options.stepIntervals));
    this.run.stats.closeWindow(window);
    if (!points) return undefined;
    const step = this.judge(devices, window, points, refined);
    this.steps.push(step);
    this.emit('step', step);
    return step;
  }

  private judge(devices: number, window: StatsWindow, points: readonly HistoryPoint[], refined: boolean): CapacityStep {
    const rows = buildRows(window.entries, window.seconds);
    const slos = evaluateThresholds(rows, this.options.slos);
    const read = rows.types.find((row) => row.name === rows.bareThresholdsRead) ?? rows.total;
    const first = points[0] as HistoryPoint;
    const last = points.at(-1) as HistoryPoint;
    return {
      devices,
      online: last.devicesOnline,
      rps: read.rps,
      requests: read.requests,
      latencyMs: read.latencyMs,
      failureRate: read.requests === 0 ? 0 : round6(read.failures / read.requests),
      timeoutRate: read.requests === 0 ? 0 : round6(read.timeouts / read.requests),
      ok: slos.every((slo) => slo.ok),
      generator: {
        busyPercent: window.busyPercent,
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
  return step.generator.intervals > 0 && step.generator.saturatedIntervals / step.generator.intervals >= GENERATOR_SATURATED_SHARE;
}

const round6 = (value: number): number => Math.round(value * 1e6) / 1e6;
