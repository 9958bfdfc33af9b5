import { EventEmitter } from 'node:events';
import type { Coordinator } from '../distributed/coordinator.ts';
import type { FleetLive } from '../distributed/fleet-live.ts';
import { UsageError } from '../errors.ts';
import type { Results } from '../metrics/results.ts';
import type { RunPlan } from '../profile/types.ts';
import { runExitCode } from '../run/run-environment.ts';
import { downloadNames, renderDownload } from './downloads.ts';
import type { Download } from './downloads.ts';
import { profileView } from './engine-feed.ts';
import { finalTable, liveTable, runSummary, TABLE_EVERY_INTERVALS } from './live-feed.ts';
import type { DoneMessage, IntervalMessage } from './live-feed.ts';
import { ConflictError } from './ui-backend.ts';
import type { UiBackend, UiMessages } from './ui-backend.ts';

/** Where a coordinated run is, as the page's status says it. */
export type FleetStatus = 'waiting' | 'running' | 'stopping' | 'finished';

/**
 * `coordinate --ui`: the live page for the whole fleet. It follows the coordinator's merged
 * intervals (the charts, the tiles, the table so far), lists the workers (a lost one named, with
 * why), and its devices control sets the fleet's count, which the coordinator splits over the live
 * workers. The coordinator starts the run when its workers have joined; the page can stop it.
 */
export class FleetUi extends EventEmitter<UiMessages> implements UiBackend {
  listening: () => boolean = () => true;
  private intervals = 0;
  private stopped = false;
  private finished: { results: Results; exitCode: number } | undefined;

  constructor(
    private readonly live: FleetLive,
    private readonly coordinator: Coordinator,
    private readonly plan: RunPlan,
  ) {
    super();
    live.on('point', (point) => {
      if (!this.listening() || this.finished) return;
      const withTable = ++this.intervals % TABLE_EVERY_INTERVALS === 0;
      const message: IntervalMessage & { fleet: object } = { point, ...(withTable ? { table: this.table() } : {}), devices: live.devices(), fleet: this.fleet() };
      this.emit('message', 'interval', message);
    });
    live.on('workers', () => this.emit('message', 'fleet', this.fleet()));
    coordinator.on('barrier', () => this.emit('message', 'state', this.state()));
  }

  get status(): FleetStatus {
    if (this.finished) return 'finished';
    if (this.stopped) return 'stopping';
    return this.coordinator.startedAtMs === undefined ? 'waiting' : 'running';
  }

  state(): object {
    const status = this.status;
    const last = this.finished && this.doneMessage(this.finished.results, this.finished.exitCode);
    const started = this.coordinator.startedAtMs;
    return {
      mode: 'fleet',
      status,
      profile: profileView(this.plan),
      run:
        status === 'running' || status === 'stopping'
          ? {
              spawnRate: this.live.spawnRate,
              startedAt: new Date(started ?? Date.now()).toISOString(),
              elapsedS: this.live.elapsedS(),
              devices: this.live.devices(),
              history: this.live.history.points,
              table: this.table(),
            }
          : undefined,
      last,
      fleet: this.fleet(),
      downloads: this.downloads(),
    };
  }

  start(): Promise<object> {
    return Promise.reject(new ConflictError('the coordinator starts the fleet once its workers have joined; this page follows it'));
  }

  /** Stops the fleet as Ctrl-C on the coordinator would: every worker drains and sends its results. */
  stop(): object {
    if (this.status !== 'running' && this.status !== 'waiting') throw new ConflictError('the fleet is not running');
    this.stopped = true;
    this.coordinator.stop('interrupted');
    const state = this.state();
    this.emit('message', 'state', state);
    return state;
  }

  setDevices(body: unknown): object {
    if (this.status !== 'running') throw new ConflictError(this.status === 'waiting' ? 'the fleet has not started: its workers are still joining' : 'the fleet is not running');
    const { devices, spawnRate } = (body ?? {}) as { devices?: unknown; spawnRate?: unknown };
    if (devices === undefined && spawnRate === undefined) throw new UsageError('devices: expected {"devices": N} and/or {"spawnRate": R} (devices per second)');
    if (devices !== undefined && typeof devices !== 'number') throw new UsageError('devices: expected {"devices": N}, N a whole number');
    if (spawnRate !== undefined && typeof spawnRate !== 'number') throw new UsageError('spawnRate: expected {"spawnRate": R}, R devices per second above 0');
    this.live.setDevices(devices, spawnRate);
    return this.state();
  }

  resetStats(): object {
    throw new ConflictError("a coordinated run's statistics are its workers': they cannot be reset from the coordinator");
  }

  /** The merged results are written: the page shows them, and they can be downloaded. */
  finish(results: Results, exitCode: number = runExitCode(results, 'duration', undefined)): void {
    this.finished = { results, exitCode };
    this.emit('message', 'done', this.doneMessage(results, exitCode));
    this.emit('message', 'state', this.state());
  }

  downloads(): string[] {
    return downloadNames(false, this.finished !== undefined);
  }

  async download(name: string): Promise<Download | undefined> {
    return this.finished ? renderDownload(name, this.finished.results, undefined) : undefined;
  }

  private fleet(): object {
    return { expected: this.live.count, joined: this.coordinator.workers.length, workers: this.live.workers() };
  }

  private table(): ReturnType<typeof liveTable> {
    return liveTable(this.live.entries, this.live.elapsedS(), this.plan.thresholds);
  }

  private doneMessage(results: Results, exitCode: number): DoneMessage {
    return { table: finalTable(results), history: results.history, summary: runSummary(results, exitCode), downloads: this.downloads() };
  }
}
