import { EventEmitter } from 'node:events';
import { UsageError } from '../errors.ts';
import { createHistogram } from '../metrics/histogram.ts';
import { addEncoded } from '../metrics/histogram-decode.ts';
import { foldPoints, History } from '../metrics/history.ts';
import type { HistoryPoint } from '../metrics/history.ts';
import { RecentWindow } from '../metrics/recent-window.ts';
import type { Results } from '../metrics/results.ts';
import type { StatsEntry } from '../metrics/stats.ts';
import { DEFAULT_WINDOW_S } from '../metrics/stats.ts';
import type { SpawnMode } from '../profile/types.ts';
import type { MetricsSource } from '../report/prometheus-metrics.ts';
import type { Coordinator, WorkerRecord, WorkerState } from './coordinator.ts';
import { FleetRows } from './fleet-rows.ts';
import { liveCeiling, splitAcrossLive } from './fleet-split.ts';
import { historyTable, mergeHistories } from './merge-history.ts';

/** What the fleet's live views need of the plan. */
export interface FleetPlan {
  /** The fleet's size: the most devices it can be raised to. */
  readonly devices: number;
  readonly spawnRate: number;
  readonly spawnMode: SpawnMode;
}

/** One worker as the page lists it. */
export interface WorkerView {
  readonly index: number;
  readonly from: string;
  readonly state: WorkerState;
  readonly lost?: string;
  readonly online: number;
  /** Its devices in the population now, and where its count is heading. */
  readonly running: number;
  readonly goal: number;
}

/** The fleet's devices, as a single run's page shows its engine's. */
export interface FleetDevices {
  readonly online: number;
  readonly target: number;
  readonly running: number;
  /** The most the live workers can run: their stripes of the fleet's size. */
  readonly ceiling: number;
}

export interface FleetLiveEvents {
  /** One merged interval of the fleet. */
  point: [point: HistoryPoint];
  /** A worker joined, was lost or finished, or the count was changed. */
  workers: [];
}

/** A second is merged without the workers yet to send it once it is this old (a late or lost worker). */
const WAIT_FOR_LATE_MS = 2_500;

/**
 * A coordinated run as it goes, for its live views: every worker's intervals summed into the
 * fleet's rows (Prometheus, the page's table), merged per wall-clock second into the fleet's
 * history points (the page's charts and tiles), the fleet's devices, and the page's change of the
 * device count split over the live workers and sent to them through the coordinator.
 */
export class FleetLive extends EventEmitter<FleetLiveEvents> {
  readonly rows = new FleetRows();
  readonly history = new History();
  private readonly pending = new Map<number, Map<number, HistoryPoint>>();
  /** Per worker, the second of its latest interval. */
  private readonly latestSecond = new Map<number, number>();
  private readonly latest = new Map<number, HistoryPoint>();
  private readonly lostWhy = new Map<number, string>();
  private mergedThrough = -Infinity;
  private recent = new RecentWindow(DEFAULT_WINDOW_S);
  private readonly timer: NodeJS.Timeout;
  /** Devices per second of the next change of count: the plan's, until the page sets another. */
  private rate: number;

  constructor(
    private readonly coordinator: Coordinator,
    private readonly plan: FleetPlan,
    /** Workers the coordinator waits for. */
    readonly count: number,
  ) {
    super();
    this.rate = plan.spawnRate;
    coordinator.on('joined', () => this.emit('workers'));
    coordinator.on('interval', (worker, point) => this.onInterval(worker, point));
    coordinator.on('finished', () => {
      this.settle();
      this.emit('workers');
    });
    coordinator.on('lost', (worker, why) => {
      this.lostWhy.set(worker.index, why);
      this.settle();
      this.emit('workers');
    });
    this.timer = setInterval(() => this.mergeReady(Date.now() - WAIT_FOR_LATE_MS), 500);
    this.timer.unref();
  }

  get spawnRate(): number {
    return this.rate;
  }

  /** Seconds since the common start (0 before it). */
  elapsedS(): number {
    const start = this.coordinator.startedAtMs;
    return start === undefined ? 0 : Math.max(0, (Date.now() - start) / 1000);
  }

  get entries(): readonly StatsEntry[] {
    return this.rows.entries;
  }

  devices(): FleetDevices {
    let online = 0;
    let running = 0;
    let target = 0;
    for (const worker of this.live()) {
      const point = this.latest.get(worker.index);
      online += point?.devicesOnline ?? 0;
      running += point?.devicesTarget ?? 0;
      target += worker.devicesGoal ?? point?.devicesTarget ?? 0;
    }
    return { online, running, target, ceiling: liveCeiling(this.liveIndices(), this.count, this.plan.devices) };
  }

  workers(): WorkerView[] {
    return this.coordinator.workers.map((worker) => {
      const point = this.latest.get(worker.index);
      const active = worker.state !== 'lost' && worker.state !== 'finished';
      const why = this.lostWhy.get(worker.index);
      return {
        index: worker.index,
        from: worker.from,
        state: worker.state,
        ...(why === undefined ? {} : { lost: why }),
        online: active ? (point?.devicesOnline ?? 0) : 0,
        running: active ? (point?.devicesTarget ?? 0) : 0,
        goal: active ? (worker.devicesGoal ?? point?.devicesTarget ?? 0) : 0,
      };
    });
  }

  /** What a Prometheus scrape reads: the fleet's rows, devices summed, the latest merged interval's health and load. */
  metricsSource(): MetricsSource {
    const { online, target } = this.devices();
    const last = this.history.points.at(-1);
    return { entries: this.rows.entries, devicesOnline: online, devicesTarget: target, generator: last?.generator, load: last?.load };
  }

  /**
   * Moves the fleet's count to `devices` (default: where it is heading) at the spawn rate, up or
   * down, as `run --ui` does: split over the live workers as shards split a fleet, each told its
   * share in the reply to its next heartbeat. A `spawnRate` becomes the fleet's for the next changes.
   */
  setDevices(devices: number = this.devices().target, spawnRate?: number): { readonly bound: number; readonly shares: ReadonlyMap<number, number> } {
    if (spawnRate !== undefined && !(Number.isFinite(spawnRate) && spawnRate > 0)) throw new UsageError(`spawnRate: expected devices per second above 0, got ${String(spawnRate)}`);
    const split = splitAcrossLive(devices, this.liveIndices(), this.count, this.plan.devices);
    if (spawnRate !== undefined) this.rate = spawnRate;
    const steps = Math.abs(devices - this.devices().running);
    // The fleet's ramp time, the same for every worker: together they spawn at the fleet's rate.
    const overMs = this.plan.spawnMode === 'all-at-once' ? 0 : Math.round((steps * 1000) / this.rate);
    for (const [index, share] of split.shares) {
      if (!this.coordinator.order(index, { devices: split.bound, share, overMs })) continue;
      const worker = this.coordinator.workers[index] as WorkerRecord;
      // Heading there from now: the page and the gauge show the new target before the next interval.
      worker.devicesGoal = share;
    }
    this.emit('workers');
    return split;
  }

  /**
   * The run is over: the last seconds are merged, and the rows become the merged results' (every
   * interval counted, one a worker could not send too). With a worker lost they stay the intervals'
   * sums: its attempts until then are in the history but not in the results' rows, and a counter
   * must not go down.
   */
  finish(results: Pick<Results, 'stats'> & { readonly coordinator?: { readonly lost: readonly number[] } }): void {
    this.mergeReady(Infinity);
    if ((results.coordinator?.lost.length ?? 0) === 0) this.rows.finish(results.stats);
  }

  close(): void {
    clearInterval(this.timer);
  }

  private live(): WorkerRecord[] {
    return this.coordinator.workers.filter((worker) => worker.state !== 'lost' && worker.state !== 'finished');
  }

  private liveIndices(): number[] {
    const live = this.live().map((worker) => worker.index);
    // Before every worker has joined, the ones to come count as live: they will run their stripes.
    for (let index = this.coordinator.workers.length; index < this.count; index++) live.push(index);
    return live;
  }

  private onInterval(worker: WorkerRecord, point: HistoryPoint): void {
    this.rows.add(worker.index, point);
    this.latest.set(worker.index, point);
    const second = Math.round(point.timestamp / 1000);
    this.latestSecond.set(worker.index, second);
    // A point for a second already merged (a late worker's) is in the rows; the charts go on without it.
    if (second > this.mergedThrough) {
      let slot = this.pending.get(second);
      if (!slot) this.pending.set(second, (slot = new Map<number, HistoryPoint>()));
      const earlier = slot.get(worker.index);
      // Two intervals of one worker in one second (timer jitter) are one, as merge folds them.
      slot.set(worker.index, earlier ? foldPoints(earlier, point) : point);
    }
    this.settle();
  }

  /** Merges every second each running worker has reached. */
  private settle(): void {
    const running = this.live();
    const reached = running.length === 0 ? Infinity : Math.min(...running.map((worker) => this.latestSecond.get(worker.index) ?? -Infinity));
    this.mergeReady(reached * 1000);
  }

  /** Merges the pending seconds up to `untilMs`, in order. */
  private mergeReady(untilMs: number): void {
    const ready = [...this.pending.keys()].filter((second) => second * 1000 <= untilMs).sort((a, b) => a - b);
    for (const second of ready) {
      const slot = this.pending.get(second) as Map<number, HistoryPoint>;
      this.pending.delete(second);
      this.mergedThrough = Math.max(this.mergedThrough, second);
      const merged = mergeHistories(
        [...slot.values()].map((point) => historyTable([point])),
        this.coordinator.startedAtMs ?? 0,
      )[0];
      if (!merged) continue;
      const total = createHistogram();
      for (const point of slot.values()) if (point.total.histogram !== undefined) addEncoded(total, point.total.histogram);
      const recent = this.recent.push(merged.intervalS, merged.total.requests, merged.total.failures, total);
      const point: HistoryPoint = { ...merged, recent };
      this.history.push(point);
      this.emit('point', point);
    }
  }
}
