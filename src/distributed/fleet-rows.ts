import { addEncoded } from '../metrics/histogram-decode.ts';
import type { HistoryPoint } from '../metrics/history.ts';
import type { StatsRow } from '../metrics/results.ts';
import { StatsEntry } from '../metrics/stats.ts';

/**
 * The fleet's (type, name) rows so far, as a single run's engine holds them, built from the
 * workers' intervals as they arrive: counts add, and each row's latency is the sum of the
 * intervals' encoded histograms (exact, as `merge` makes it). What a Prometheus scrape and the
 * page's live table read of a coordinated run. Failures by error are not in the intervals: the
 * merged results carry them at the end.
 */
export class FleetRows {
  private byKey = new Map<string, StatsEntry>();
  /** Per worker and row, the worker's run-so-far bytes (the intervals carry no bytes of their own). */
  private readonly bytesIn = new Map<number, Map<string, number>>();

  get entries(): readonly StatsEntry[] {
    return [...this.byKey.values()];
  }

  /** Adds one worker's interval. */
  add(worker: number, point: HistoryPoint): void {
    let bytes = this.bytesIn.get(worker);
    if (!bytes) this.bytesIn.set(worker, (bytes = new Map<string, number>()));
    for (const row of point.rows) {
      const key = `${row.type} ${row.name}`;
      const entry = this.entry(row.type, row.name);
      entry.requests += row.requests;
      entry.failures += row.failures;
      entry.timeouts += row.timeouts;
      if (row.offered !== undefined) {
        entry.offers = true;
        entry.offered += row.offered;
        entry.delivered += row.delivered ?? 0;
      }
      if (row.histogram !== undefined) addEncoded(entry.latency, row.histogram);
      entry.bytesIn += row.cumulative.bytesIn - (bytes.get(key) ?? 0);
      bytes.set(key, row.cumulative.bytesIn);
    }
  }

  /**
   * The merged results' rows replace the intervals' sums: an interval a worker could not send is
   * in them, so a scrape after the end reads exactly the results' counts. New entries, so a
   * reader that caches by entry reads them afresh.
   */
  finish(stats: readonly StatsRow[]): void {
    const byKey = new Map<string, StatsEntry>();
    for (const row of stats) {
      const entry = new StatsEntry(row.type, row.name);
      entry.requests = row.requests;
      entry.failures = row.failures;
      entry.timeouts = row.timeouts;
      entry.bytesIn = row.bytesIn;
      if (row.offered !== undefined) {
        entry.offers = true;
        entry.offered = row.offered;
        entry.delivered = row.delivered ?? row.requests;
      }
      if (row.histogram) addEncoded(entry.latency, row.histogram);
      byKey.set(`${row.type} ${row.name}`, entry);
    }
    this.byKey = byKey;
  }

  private entry(type: string, name: string): StatsEntry {
    const key = `${type} ${name}`;
    let entry = this.byKey.get(key);
    if (!entry) this.byKey.set(key, (entry = new StatsEntry(type, name)));
    return entry;
  }
}
