import type { CapacityResult, CapacitySearch, CapacityStep } from '../capacity/search.ts';
import type { Engine } from '../engine/engine.ts';
import type { Results } from '../metrics/results.ts';
import type { RunPlan } from '../profile/types.ts';
import { capacityVerdict } from '../report/capacity-console.ts';
import { downloadNames, renderDownload } from './downloads.ts';
import type { Download } from './downloads.ts';
import { EngineFeed, profileView, runView } from './engine-feed.ts';
import { runSummary } from './live-feed.ts';
import { ConflictError } from './ui-backend.ts';

/** A step as the page draws it. */
function stepView(step: CapacityStep): object {
  const { devices, online, rps, latencyMs, failureRate, timeoutRate, ok, failedSlos, refined, repeat, generator } = step;
  return { devices, online, rps, latencyMs, failureRate, timeoutRate, ok, failedSlos, refined, repeat, generator };
}

/**
 * `capacity --ui`: the page follows the search (each step as it completes, the knee once found)
 * and may stop it; the search alone sets the device count and no other run can start.
 */
export class CapacityUi extends EngineFeed {
  private readonly steps: CapacityStep[] = [];
  private current: number | undefined;
  private finished: { results: Results; result: CapacityResult; exitCode: number } | undefined;

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
    this.follow(engine, plan);
  }

  /** The search is over and its reports written: the page shows the final numbers and the verdict. */
  finish(results: Results, result: CapacityResult, exitCode: number): void {
    this.finished = { results, result, exitCode };
    this.current = undefined;
    this.emit('message', 'done', this.doneMessage(results, runSummary(results, exitCode)));
    this.emit('message', 'state', this.state());
  }

  state(): object {
    const finished = this.finished;
    const status = finished ? 'finished' : this.engine.stopping ? 'stopping' : 'running';
    return {
      mode: 'capacity',
      status,
      profile: profileView(this.plan),
      run: finished ? undefined : runView(this.engine, this.plan),
      last: finished && this.doneMessage(finished.results, runSummary(finished.results, finished.exitCode)),
      capacity: this.capacity(),
      downloads: this.downloads(),
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

  resetStats(): object {
    throw new ConflictError('the capacity search judges each step on its own window: there are no run statistics to reset');
  }

  async download(name: string): Promise<Download | undefined> {
    if (!this.finished) return undefined;
    const { results, result } = this.finished;
    return renderDownload(name, results, undefined, { steps: result.steps, verdict: capacityVerdict(result) });
  }

  downloads(): string[] {
    return downloadNames(false, this.finished !== undefined);
  }

  private capacity(): object {
    const result = this.finished?.result;
    return { steps: this.steps.map(stepView), current: this.current, verdict: result ? capacityVerdict(result) : undefined, limitedBy: result?.limitedBy };
  }
}
