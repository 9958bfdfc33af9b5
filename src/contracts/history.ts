import type { IntervalHealth } from './health.ts';
import type { LatencySummary } from './latency.ts';
import type { IntervalLoad } from './load.ts';

/** What one row did so far, for Locust's "Total …" history columns. */
export interface CumulativeCounts {
  readonly requests: number;
  readonly failures: number;
  readonly bytesIn: number;
  readonly latencyMs: { readonly p50: number | null; readonly mean: number | null; readonly min: number | null; readonly max: number | null };
}

/** One row (a (type, name) pair, a type's aggregate, or the run's) over one interval. */
export interface HistoryRow {
  readonly type: string;
  readonly name: string;
  /** Finished attempts in the interval (failures and timeouts included). */
  readonly requests: number;
  readonly failures: number;
  readonly timeouts: number;
  readonly rps: number;
  readonly failuresPerS: number;
  /** Latency of the attempts that finished in the interval; nulls when none did. */
  readonly latencyMs: LatencySummary;
  readonly cumulative: CumulativeCounts;
  /** Rows the plan offers load on: attempts it meant to start in the interval, and the rates offered and delivered. */
  readonly offered?: number;
  readonly delivered?: number;
  readonly offeredRps?: number;
  readonly deliveredRps?: number;
  /**
   * The interval's latencies, HdrHistogram-encoded (compressed base64), in a shard's history only:
   * so merged intervals' percentiles come from merged histograms. Absent when nothing finished.
   */
  readonly histogram?: string;
}

/** What happened in the interval that ended `atS` seconds after the start. */
export interface HistoryPoint {
  readonly atS: number;
  /** Wall-clock end of the interval (epoch ms): shards' histories align on it. */
  readonly timestamp: number;
  readonly intervalS: number;
  /** Intervals folded into this point (1 at full resolution); a folded point's percentiles are the worst of its intervals'. */
  readonly folded: number;
  readonly devicesOnline: number;
  /** Devices the load shape has running now (the population 0..n-1), whatever their sessions are doing. */
  readonly devicesTarget: number;
  /** With device lifecycles (sleeps, reboots, offline windows): the devices the plan has on the network at the interval's end. */
  readonly devicesPlanned?: number;
  readonly generator: IntervalHealth;
  readonly saturated: boolean;
  readonly total: HistoryRow;
  /** One aggregate per row type: `HTTP` (every method), `CONNECT`, `PUBLISH`, `SUBSCRIBE`. */
  readonly types: readonly HistoryRow[];
  readonly rows: readonly HistoryRow[];
  /** The interval's share of the offered load (over a trailing window) and whose limit it was when short. */
  readonly load?: IntervalLoad;
  /** The run's rates and percentiles over the trailing window that ends here (what the live views show). */
  readonly recent?: RecentRates;
}

/**
 * The run's rates and percentiles over its last `windowS` seconds, as Locust's "current RPS": a
 * fleet paced every 5 s finishes its requests in lumps, and one 1-s interval reads 30, 0, 15, 0
 * req/s where the window reads a steady 9.
 */
export interface RecentRates {
  /** Seconds the rates cover: the window, or less while the run is younger than it. */
  readonly windowS: number;
  readonly rps: number;
  readonly failuresPerS: number;
  /** Latency of the attempts that finished in about the same window; nulls when none did. */
  readonly latencyMs: { readonly p50: number | null; readonly p95: number | null; readonly p99: number | null };
}
