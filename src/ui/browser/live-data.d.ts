/**
 * What the live page's script reads of the messages the UI server pushes (src/ui/live-feed.ts,
 * engine-feed.ts, ui-controller.ts, capacity-ui.ts, fleet-ui.ts) and of the page state it keeps on `window.__ui`
 * for the tests that drive it in a browser (declared on `window` in live-globals.d.ts).
 * test/types/browser-contracts.ts checks that the server's typed messages still fit these.
 */
import type { HistoryPointView, LatencyView } from '../../report/browser/report-data.d.ts';

export type { HistoryPointView } from '../../report/browser/report-data.d.ts';

/** The latencies a table row shows, in ms; null without samples. */
export interface RowLatencyView extends LatencyView {
  readonly min: number | null;
  readonly mean: number | null;
  readonly max: number | null;
  readonly p90: number | null;
}

export interface RowView {
  readonly type: string;
  readonly name: string;
  readonly requests: number;
  readonly failures: number;
  readonly rps: number;
  readonly bytesIn?: number;
  readonly latencyMs: RowLatencyView;
}

export interface TableView {
  readonly stats: readonly RowView[];
  readonly types: readonly RowView[];
  readonly total: RowView;
  readonly failures: readonly { readonly type: string; readonly name: string; readonly error: string; readonly count: number }[];
  readonly thresholds: readonly {
    readonly expr: string;
    readonly ok: boolean;
    readonly value: number | null;
    readonly row?: string;
    readonly reason?: string;
    readonly shown?: string;
  }[];
}

export interface DevicesView {
  readonly online: number;
  readonly target: number;
  readonly running: number;
  readonly ceiling: number;
}

/** A coordinated run's workers (src/ui/fleet-ui.ts, src/distributed/fleet-live.ts). */
export interface FleetView {
  readonly expected: number;
  readonly joined: number;
  readonly workers: readonly {
    readonly index: number;
    readonly from: string;
    readonly state: string;
    readonly lost?: string;
    readonly online: number;
    readonly goal: number;
  }[];
}

export interface IntervalMessage {
  readonly point: HistoryPointView;
  readonly table?: TableView;
  readonly devices: DevicesView;
  /** With a coordinated run's page: its workers. */
  readonly fleet?: FleetView;
}

/** The run's load verdict, as the finished page's banner reads it. */
export interface RunLoadView {
  readonly offeredRps: number;
  readonly deliveredShare: number | null;
  readonly cause: string;
  readonly summary: string;
  readonly advice?: string;
}

export interface DoneMessage {
  readonly table: TableView;
  readonly history: readonly HistoryPointView[];
  readonly summary: {
    readonly durationS: number;
    readonly stopReason: string;
    readonly devices: { readonly online: number; readonly target: number };
    readonly resetAtS?: number;
    readonly load?: RunLoadView | undefined;
  };
  readonly downloads: readonly string[];
}

export interface CapacityView {
  readonly steps: readonly {
    readonly devices: number;
    readonly rps: number;
    readonly latencyMs: LatencyView;
    readonly failureRate: number;
    readonly ok: boolean;
    /** A repeat of an earlier step: a retry after a shortfall that was not the target's, or `--repeat` around the knee. */
    readonly repeat?: 'retry' | 'knee';
  }[];
  readonly current?: number;
  readonly verdict?: string;
}

/** `state` events and the JSON API's answers. */
export interface StateMessage {
  readonly mode: 'run' | 'capacity' | 'fleet';
  readonly status: string;
  readonly profile: { readonly name: string; readonly models: readonly { readonly name: string; readonly count: number }[] };
  /** The start form's fields, as strings. */
  readonly defaults?: Readonly<Record<string, string>>;
  readonly error?: string;
  readonly run?: {
    readonly history: readonly HistoryPointView[];
    readonly table: TableView;
    readonly devices: DevicesView;
    readonly spawnRate?: number;
    readonly resetAtS?: number | null;
  };
  readonly last?: DoneMessage;
  readonly downloads?: readonly string[];
  readonly capacity?: CapacityView;
  readonly fleet?: FleetView;
}

/** A chart as the page last drew it: its point and series counts and each column's last value. */
export interface ChartState {
  readonly points: number;
  readonly series: number;
  readonly last?: readonly unknown[];
}

/** The page's state, exposed for the browser tests. */
export interface PageState {
  status: string;
  intervals: number;
  charts: Record<string, ChartState>;
  table: TableView | null;
  devices: DevicesView | null;
  mode: string | null;
  recent?: HistoryPointView['recent'];
  resetAtS?: number | null | undefined;
  spawnRate?: number | undefined;
  done?: number;
  fleet?: FleetView | undefined;
}
