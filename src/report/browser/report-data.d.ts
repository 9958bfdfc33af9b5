/**
 * What the report's page script reads of the data embedded in the page (`#fleetsim-data`): the
 * fields of `fleetsim.results/v1` (src/metrics/results.ts) and of the capacity steps it charts.
 * test/types/browser-contracts.ts checks that the real types still fit these.
 */

/** The latency percentiles a chart reads, in ms; null where an interval had no samples. */
export interface LatencyView {
  readonly p50: number | null;
  readonly p95: number | null;
  readonly p99: number | null;
}

/** A row of one interval (a (type, name) pair, a type's aggregate, or the run's). */
export interface HistoryRowView {
  readonly type: string;
  readonly name: string;
  readonly requests: number;
  readonly rps: number;
  readonly failuresPerS: number;
  readonly latencyMs: LatencyView;
}

/** One interval of the run's history. */
export interface HistoryPointView {
  readonly atS: number;
  readonly intervalS: number;
  readonly devicesOnline: number;
  readonly devicesTarget: number;
  readonly devicesPlanned?: number;
  readonly generator: {
    readonly busyPercent: number;
    readonly lagP99Ms: number;
    readonly runQueuePercent?: number;
    readonly otherCpuPercent?: number;
  };
  readonly saturated: boolean;
  readonly total: HistoryRowView;
  readonly types: readonly HistoryRowView[];
  readonly rows: readonly HistoryRowView[];
  readonly load?: {
    readonly offeredRps: number;
    readonly deliveredShare: number | null;
    readonly windowS: number;
    readonly cause: 'delivered' | 'target' | 'generator' | 'host' | 'queues' | null;
  };
  readonly recent?: { readonly windowS: number; readonly rps: number; readonly failuresPerS: number; readonly latencyMs: LatencyView };
}

export interface ResultsView {
  readonly startedAt: string;
  readonly total: { readonly requests: number; readonly failures: number };
  readonly history: readonly HistoryPointView[];
}

/** One step of a capacity search, as the report's capacity chart reads it. */
export interface CapacityStepView {
  readonly devices: number;
  readonly rps: number;
  readonly latencyMs: LatencyView;
}

/** The embedded JSON: `{ results, capacity? }`. */
export interface ReportData {
  readonly results?: ResultsView;
  readonly capacity?: { readonly steps: readonly CapacityStepView[] };
}

/** A chart the page drew (or found empty), for the tests that open the report in a browser. */
export interface DrawnChart {
  readonly id: string;
  readonly points: number;
  readonly series?: number;
  readonly error?: string;
}
