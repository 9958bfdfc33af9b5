import type { AnomalyLabel } from '../template/generators/anomaly-labels.ts';
import type { Outcome } from '../transport/types.ts';
import type { HistoryPoint } from '../metrics/history.ts';
export type { AbandonCause } from '../contracts/results.ts';

/** One finished attempt. Emitted only when someone listens (the request log), so the hot path stays lean. */
export interface AttemptRecord {
  readonly device: string;
  readonly deviceIndex: number;
  readonly seq: number;
  readonly type: string;
  readonly name: string;
  /** The concrete path or topic. */
  readonly target: string;
  /** The exact payload sent, or null for none. */
  readonly body: string | null;
  /** `abandoned`: still in flight when the drain ended (its timeout, or a second interrupt); not in the stats. */
  readonly outcome: Outcome | 'abandoned';
  readonly error: string | undefined;
  readonly latencyMs: number;
  /** Intended start, ms since the run started. */
  readonly intendedAtMs: number;
  /** When the attempt was counted (its answer, failure or abandonment), ms since the run started: the history interval that holds it is the first ending at or after this. */
  readonly doneAtMs: number;
  /** Ground truth of the anomalies a template injected into this attempt's payload (`anomaly()`), if any. */
  readonly anomalies?: readonly AnomalyLabel[] | undefined;
}

/** `interrupted`: SIGINT (Ctrl-C); `terminated`: SIGTERM. */
export type StopReason = 'duration' | 'iterations' | 'interrupted' | 'terminated' | 'requested';

export interface EngineEvents {
  /** A device started (boot begins). */
  spawn: [deviceIndex: number, started: number];
  /** The load shape lowered the count: this device ends its current task, then stops. `running` is the count left. */
  retire: [deviceIndex: number, running: number];
  attempt: [record: AttemptRecord];
  interval: [point: HistoryPoint];
  /** No new tasks start from here; in-flight ones are being drained. */
  stopping: [reason: StopReason];
  done: [reason: StopReason];
}
