import { StatsEntry } from './stats-entry.ts';
import type { IntervalHealth } from './history.ts';
import type { IntervalLoad } from './load-verdict.ts';

/**
 * Stats over a run of whole intervals (a capacity step after its settle time): each row's interval
 * is added in at every snapshot while the window is open, so its percentiles are exact for the
 * window, not read off the cumulative numbers.
 */
export class StatsWindow {
  private readonly byKey = new Map<StatsEntry, StatsEntry>();
  readonly entries: StatsEntry[] = [];
  seconds = 0;
  intervals = 0;
  saturatedIntervals = 0;
  /** The busiest interval's event-loop share and the worst interval's lag. */
  maxBusyPercent = 0;
  maxLagP99Ms = 0;
  private busyWeighted = 0;
  private runQueueWeighted: number | undefined;

  /** The share of the window the main thread waited for a CPU, weighted by interval length; undefined off Linux. */
  get runQueuePercent(): number | undefined {
    return this.runQueueWeighted === undefined || this.seconds === 0 ? undefined : Math.round((this.runQueueWeighted / this.seconds) * 10) / 10;
  }

  /** Event-loop busy share over the window, weighted by interval length. */
  get busyPercent(): number {
    return this.seconds === 0 ? 0 : Math.round((this.busyWeighted / this.seconds) * 10) / 10;
  }

  add(source: StatsEntry): void {
    let copy = this.byKey.get(source);
    if (!copy) {
      copy = new StatsEntry(source.type, source.name);
      this.byKey.set(source, copy);
      this.entries.push(copy);
    }
    copy.absorbInterval(source);
  }

  /** The intervals' load judgements, for the window's own verdict. */
  readonly loads: { readonly load: IntervalLoad | undefined; readonly intervalS: number }[] = [];

  closeInterval(seconds: number, generator: IntervalHealth, saturated: boolean, load?: IntervalLoad): void {
    this.loads.push({ load, intervalS: seconds });
    this.seconds += seconds;
    this.intervals++;
    if (saturated) this.saturatedIntervals++;
    this.busyWeighted += generator.busyPercent * seconds;
    if (generator.runQueuePercent !== undefined) this.runQueueWeighted = (this.runQueueWeighted ?? 0) + generator.runQueuePercent * seconds;
    this.maxBusyPercent = Math.max(this.maxBusyPercent, generator.busyPercent);
    this.maxLagP99Ms = Math.max(this.maxLagP99Ms, generator.lagP99Ms);
  }
}
