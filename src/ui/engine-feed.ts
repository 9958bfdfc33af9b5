import { EventEmitter } from 'node:events';
import type { Engine } from '../engine/engine.ts';
import type { Results } from '../metrics/results.ts';
import type { RunPlan } from '../profile/types.ts';
import type { Download } from './downloads.ts';
import { finalTable, liveTable, TABLE_EVERY_INTERVALS } from './live-feed.ts';
import type { DevicesView, DoneMessage, IntervalMessage, RunSummary, TableView } from './live-feed.ts';
import type { UiBackend, UiMessages } from './ui-backend.ts';

export function devicesView(engine: Engine, plan: RunPlan): DevicesView {
  return { online: engine.online, target: engine.targetDevices, running: engine.runningDevices, ceiling: plan.devices };
}

/** The profile as the page heads it. */
export function profileView(plan: RunPlan): object {
  return { name: plan.name, path: plan.profilePath, models: plan.fleet.map((entry) => ({ name: entry.model.name, count: entry.count })), thresholds: plan.thresholds };
}

/** The rows so far; their rates over the seconds since `sinceMs` (the statistics' reset, else the start). */
function tableSoFar(engine: Engine, plan: RunPlan, sinceMs = 0): TableView {
  return liveTable(engine.stats.entries, (engine.elapsedMs() - sinceMs) / 1000, plan.thresholds);
}

/** A running engine as a page that opens now sees it: the history and the table so far. */
export function runView(engine: Engine, plan: RunPlan, sinceMs = 0): object {
  return { elapsedS: engine.elapsedMs() / 1000, devices: devicesView(engine, plan), history: engine.stats.history.points, table: tableSoFar(engine, plan, sinceMs) };
}

/**
 * What every UI backend pushes alike for the engine it follows: each interval's point (with the
 * table every TABLE_EVERY_INTERVALS intervals) while a page listens, the state once the run begins
 * to stop, and the finished run's message.
 */
export abstract class EngineFeed extends EventEmitter<UiMessages> implements UiBackend {
  /** Set by the server: whether a page listens, so per-interval tables are built only then. */
  listening: () => boolean = () => true;
  private intervals = 0;

  abstract state(): object;
  abstract start(body: unknown): Promise<object>;
  abstract stop(): object;
  abstract setDevices(body: unknown): object;
  abstract resetStats(): object;
  abstract download(name: string): Promise<Download | undefined>;
  abstract downloads(): string[];

  /** `sinceMs`: when the statistics the tables read began (a reset), ms since the run's start. */
  protected follow(engine: Engine, plan: RunPlan, sinceMs: () => number = () => 0): void {
    engine.on('interval', (point) => {
      if (!this.listening() || engine.stopping) return;
      const withTable = ++this.intervals % TABLE_EVERY_INTERVALS === 0;
      const message: IntervalMessage = { point, ...(withTable ? { table: tableSoFar(engine, plan, sinceMs()) } : {}), devices: devicesView(engine, plan) };
      this.emit('message', 'interval', message);
    });
    engine.on('stopping', () => this.emit('message', 'state', this.state()));
  }

  protected doneMessage(results: Results, summary: RunSummary): DoneMessage {
    return { table: finalTable(results), history: results.history, summary, downloads: this.downloads() };
  }
}
