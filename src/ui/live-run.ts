import { Engine } from '../engine/engine.ts';
import type { StopReason } from '../engine/events.ts';
import { StageDriver } from '../engine/schedule/stages.ts';
import { GeneratorMonitor } from '../metrics/generator-monitor.ts';
import type { Results } from '../metrics/results.ts';
import type { RunPlan, Stage } from '../profile/types.ts';
import { UsageError } from '../errors.ts';
import type { Endpoints } from '../run/run-environment.ts';
import { resultsOf } from '../run/run-environment.ts';

/** What a run from the UI was started with. */
export interface StartSettings {
  /** Devices to ramp to at the start (without stages). */
  readonly devices: number;
  readonly spawnRate: number;
  /** The fleet's size: the most the count can be raised to while running. */
  readonly maxDevices: number;
  readonly durationMs: number | undefined;
  readonly stages: readonly Stage[] | undefined;
  readonly target: string | undefined;
  readonly broker: string | undefined;
}

/**
 * One run started from the UI: the engine is steered (the run starts with no devices) so the page
 * can move the count anywhere up to the fleet's size, as a stage does; its own shape (a ramp at the
 * spawn rate, or the stages) is driven the same way.
 */
export class LiveRun {
  readonly engine: Engine;
  readonly startedAt = new Date();
  private readonly monitor = new GeneratorMonitor();
  private stopReason: StopReason = 'requested';
  private onlineAtStop = 0;
  /** The highest count asked for: the results' device target, as a run's is its largest stage. */
  private peakTarget = 0;
  /** When the statistics were last reset, ms since the start; undefined: they cover the whole run. */
  private resetAt: number | undefined;
  /** Devices per second of the next change of count: the start's, until the page sets another. */
  private rate: number;

  constructor(
    readonly plan: RunPlan,
    readonly settings: StartSettings,
    endpoints: Endpoints,
  ) {
    this.rate = settings.spawnRate;
    this.engine = new Engine({ plan, target: endpoints.target, broker: endpoints.broker, generator: this.monitor, steered: true });
    this.engine.on('stopping', (reason) => {
      this.stopReason = reason;
      this.onlineAtStop = this.engine.online;
    });
  }

  get stopping(): boolean {
    return this.engine.stopping;
  }

  get spawnRate(): number {
    return this.rate;
  }

  /** Seconds since the start at which the statistics were last reset; undefined when never. */
  get resetAtS(): number | undefined {
    return this.resetAt === undefined ? undefined : Math.round(this.resetAt) / 1000;
  }

  /** Where the statistics begin, ms since the start: the last reset's, else 0. */
  get statsSinceMs(): number {
    return this.resetAt ?? 0;
  }

  /**
   * Locust's "reset stats": every row's counts, histograms and failures, and the history, start
   * again from now; the run and its devices go on. The results then say so (see `results`).
   */
  resetStats(): void {
    if (this.engine.stopping) throw new UsageError('reset: the run is stopping');
    const atMs = this.engine.elapsedMs();
    this.engine.stats.reset(atMs);
    this.resetAt = atMs;
  }

  get reason(): StopReason {
    return this.stopReason;
  }

  /** Runs to the end (duration, iterations, or a stop) and returns the results. */
  async run(): Promise<Results> {
    this.monitor.start();
    const running = this.engine.run();
    const { stages, devices, spawnRate } = this.settings;
    if (stages) {
      this.peakTarget = Math.max(...stages.map((stage) => stage.devices));
      new StageDriver(this.engine, stages).start();
    } else {
      this.peakTarget = devices;
      this.engine.rampTo(devices, this.plan.spawnMode === 'all-at-once' ? 0 : (devices * 1000) / spawnRate);
    }
    const times = await running;
    return this.results(times, this.monitor.stop(), this.stopReason);
  }

  /**
   * Moves the count to `devices` (default: where it is heading) at the spawn rate, up or down, as a
   * stage would; a `spawnRate` given first becomes the run's, for this change and the next ones.
   */
  setDevices(devices: number = this.engine.targetDevices, spawnRate?: number): void {
    if (this.engine.stopping) throw new UsageError('devices: the run is stopping');
    if (!Number.isSafeInteger(devices) || devices < 0 || devices > this.plan.devices) {
      throw new UsageError(`devices: expected a whole number from 0 to ${this.plan.devices} (the fleet's size, set at start as max devices), got ${String(devices)}`);
    }
    if (spawnRate !== undefined && !(Number.isFinite(spawnRate) && spawnRate > 0)) throw new UsageError(`spawnRate: expected devices per second above 0, got ${String(spawnRate)}`);
    if (spawnRate !== undefined) this.rate = spawnRate;
    const steps = Math.abs(devices - this.engine.runningDevices);
    this.peakTarget = Math.max(this.peakTarget, devices);
    this.engine.rampTo(devices, this.plan.spawnMode === 'all-at-once' ? 0 : (steps * 1000) / this.rate);
  }

  stop(): void {
    this.engine.stop('requested');
  }

  /** The results so far, for a download while the run goes on: marked `running`, not a stop reason. */
  interim(): Results {
    const now = new Date();
    const elapsed = this.engine.elapsedMs();
    const times = { startedAt: this.startedAt, endedAt: now, durationMs: elapsed, activeMs: elapsed };
    return { ...this.results(times, this.monitor.read(), 'requested'), stopReason: 'running' };
  }

  private results(times: Parameters<typeof resultsOf>[0]['times'], generator: Results['generator'], stopReason: StopReason): Results {
    const resetAt = this.resetAt;
    // After a reset the rows count from it, so their rates divide by the seconds since.
    const counted = resetAt === undefined ? times : { ...times, activeMs: Math.max(1, times.activeMs - resetAt) };
    const results = resultsOf({ plan: this.plan, engine: this.engine, times: counted, generator, stopReason, onlineAtStop: this.engine.stopping ? this.onlineAtStop : this.engine.online });
    const reset =
      resetAt === undefined
        ? []
        : [
            `statistics were reset from the UI at ${Math.round(resetAt) / 1000}s of ${Math.round(times.activeMs) / 1000}s: the counts, rates, percentiles, failures and history cover only the run after it (activeS is the time since the reset)`,
          ];
    return { ...results, devices: { ...results.devices, target: this.peakTarget }, warnings: [...results.warnings, ...reset] };
  }
}
