import { EventEmitter } from 'node:events';
import type { CapacityResult, CapacitySearch, CapacityStep } from '../capacity/search.ts';
import type { Engine } from '../engine/engine.ts';
import type { HistoryPoint } from '../metrics/history.ts';
import type { Results } from '../metrics/results.ts';
import type { RunPlan } from '../profile/types.ts';
import { capacityVerdict } from '../report/capacity-console.ts';
import { downloadNames, renderDownload } from './downloads.ts';
import type { Download } from './downloads.ts';
import { finalTable, liveTable, runSummary, TABLE_EVERY_INTERVALS } from './live-feed.ts';
import type { DevicesView, IntervalMessage } from './live-feed.ts';
import { ConflictError } from './ui-backend.ts';
import type { UiBackend, UiMessages } from './ui-backend.ts';

/** A step as the page draws it. */
function stepView(step: CapacityStep): object {
  const { devices, online, rps, latencyMs, failureRate, timeoutRate, ok, failedSlos, refined, generator } = step;
  return { devices, online, rps, latencyMs, failureRate, timeoutRate, ok, failedSlos, refined, generator };
}

/**
 * `capacity --ui`: the page follows the search (each step as it completes, the knee once found)
 * and may stop it; the search alone sets the device count and no other run can start.
 */
export class CapacityUi extends EventEmitter<UiMessages> implements UiBackend {
  private readonly steps: CapacityStep[] = [];
  private current: number | undefined;
  private intervals = 0;
  private finished: { results: Results; result: CapacityResult; exitCode: number } | undefined;
  listening: () => boolean = () => true;

  constructor(
    private readonly engine: Engine,
    private readonly plan: RunPlan,
    search: CapacitySearch,
  ) {
    super();
    search.on('stepStarted', (devices) => {
      this.current = devices;
      this.emit('message', 'capacity', this.capacity());
    });
    search.on('step', (step) => {
      this.steps.push(step);
      this.emit('message', 'capacity', this.capacity());
    });
    engine.on('interval', (point) => this.onInterval(point));
    engine.on('stopping', () => this.emit('message', 'state', this.state()));
  }

  /** The search is over and its reports written: the page shows the final numbers and the verdict. */
  finish(results: Results, result: CapacityResult, exitCode: number): void {
    this.finished = { results, result, exitCode };
    this.current = undefined;
    this.emit('message', 'done', { table: finalTable(results), history: results.history, summary: runSummary(results, exitCode), downloads: this.downloadList() });
    this.emit('message', 'state', this.state());
  }

  state(): object {
    const finished = this.finished;
    const status = finished ? 'finished' : this.engine.stopping ? 'stopping' : 'running';
    return {
      mode: 'capacity',
      status,
      profile: { name: this.plan.name, path: this.plan.profilePath, models: this.plan.fleet.map((entry) => ({ name: entry.model.name, count: entry.count })), thresholds: this.plan.thresholds },
      run: finished
        ? undefined
        : { elapsedS: this.engine.elapsedMs() / 1000, devices: this.devices(), history: this.engine.stats.history.points, table: this.table() },
      last: finished && { table: finalTable(finished.results), history: finished.results.history, summary: runSummary(finished.results, finished.exitCode), downloads: this.downloadList() },
      capacity: this.capacity(),
      downloads: this.downloadList(),
    };
  }

  start(): Promise<object> {
    return Promise.reject(new ConflictError('a capacity search is started from the command line; this page follows it'));
  }

  stop(): object {
    if (this.finished || this.engine.stopping) throw new ConflictError('the search is not running');
    this.engine.stop('requested');
    return this.state();
  }

  setDevices(): object {
    throw new ConflictError('the capacity search sets the device count');
  }

  async download(name: string): Promise<Download | undefined> {
    if (!this.finished) return undefined;
    const { results, result } = this.finished;
    return renderDownload(name, results, undefined, { steps: result.steps, verdict: capacityVerdict(result) });
  }

  private downloadList(): string[] {
    return downloadNames(false, this.finished !== undefined);
  }

  private capacity(): object {
    const result = this.finished?.result;
    return { steps: this.steps.map(stepView), current: this.current, verdict: result ? capacityVerdict(result) : undefined, limitedBy: result?.limitedBy };
  }

  private devices(): DevicesView {
    return { online: this.engine.online, target: this.engine.targetDevices, running: this.engine.runningDevices, ceiling: this.plan.devices };
  }

  private table(): ReturnType<typeof liveTable> {
    return liveTable(this.engine.stats.entries, this.engine.elapsedMs() / 1000, this.plan.thresholds);
  }

  private onInterval(point: HistoryPoint): void {
    if (!this.listening() || this.engine.stopping) return;
    const withTable = ++this.intervals % TABLE_EVERY_INTERVALS === 0;
    const message: IntervalMessage = { point, ...(withTable ? { table: this.table() } : {}), devices: this.devices() };
    this.emit('message', 'interval', message);
  }
}
