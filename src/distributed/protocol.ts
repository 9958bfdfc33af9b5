/**
 * The coordinator–worker protocol, JSON over HTTP with `Authorization: Bearer <token>`:
 *
 *   POST /join        {pid} → JoinReply: the worker's shard and the plan (profile path, sha256, flags)
 *   POST /heartbeat   {index} → StopReply: the worker is alive (every HEARTBEAT_MS, from join to its end)
 *   POST /ready       {index} → ReadyReply: answered when every worker is ready (the barrier)
 *   POST /interval    IntervalMessage → StopReply: one history point, its rows' histograms encoded
 *   POST /results     {index, results}: the shard's results JSON
 *   POST /log?index=I the shard's request log (NDJSON), when the run writes one
 *   GET  /results.json  the merged results, once written (the download endpoint)
 *
 * A coordinator that was interrupted says `stop` in its replies: each worker stops as on its own
 * Ctrl-C (drains, then sends its results). A worker answered 410 (declared lost) stops too.
 *
 * A coordinator whose page changed the fleet's device count says `rampTo` in its next reply to
 * each running worker (a heartbeat's or an interval's), once: the worker moves its count there as
 * `run --ui` does, and reports where it is heading in its next IntervalMessage (`devicesGoal`).
 */
import { FleetsimError } from '../errors.ts';
import type { HistoryPoint } from '../metrics/history.ts';
import type { Results } from '../metrics/results.ts';

export const HEARTBEAT_MS = 1000;

/** Flags each worker runs with, as `run` takes them (raw text, so a worker's errors echo them as typed). */
export interface WorkerFlags {
  readonly devices?: string;
  readonly spawnRate?: string;
  readonly duration?: string;
  readonly iterations?: string;
  readonly seed: string;
  readonly threshold?: readonly string[];
  readonly stage?: readonly string[];
  readonly minDelivered?: string;
  readonly localIps?: string;
  readonly target?: string;
  readonly broker?: string;
}

export interface JoinReply {
  readonly index: number;
  readonly count: number;
  readonly profile: { readonly path: string; readonly sha256: string };
  readonly flags: WorkerFlags;
  /** Send the request log at the end (the coordinator writes the run's `--log-requests`). */
  readonly logRequests: boolean;
}

/** Why the coordinator tells its workers to stop: the signal it got (SIGINT, SIGTERM). */
export type StopReason = 'interrupted' | 'terminated';

/**
 * A change of the fleet's device count, for one worker. `devices` counts the whole fleet, as
 * `Engine.rampTo` takes it: the worker runs its own stripe of the indices below it (the split
 * `--shard` uses), so its share is `share`. `overMs` is the fleet's ramp time (the same for every
 * worker, so each spawns at its part of the rate); 0 is at once.
 */
export interface RampOrder {
  readonly devices: number;
  readonly share: number;
  readonly overMs: number;
}

/** The reply to a heartbeat or an interval: `stop` once the coordinator was interrupted; `rampTo` once the fleet's count was changed. */
export interface StopReply {
  readonly stop?: StopReason;
  readonly rampTo?: RampOrder;
}

export interface ReadyReply extends StopReply {
  /** Epoch ms at which every worker starts its clock; -1 when the run was stopped before it started. */
  readonly startAtMs: number;
}

export interface IntervalMessage {
  readonly index: number;
  /** Epoch ms at which this worker's run (its first interval) began. */
  readonly runStartedAtMs: number;
  readonly point: HistoryPoint;
  /** Where this worker's device count is heading (its ramp's goal, its share of the fleet's); the point's `devicesTarget` is where it is. */
  readonly devicesGoal?: number;
}

export interface ResultsMessage {
  readonly index: number;
  readonly runStartedAtMs: number;
  readonly results: Results;
}

/** A coordinator that refused the worker (a wrong token, a full fleet, another profile) or cannot be reached: exit 2. */
export class JoinError extends FleetsimError {
  constructor(message: string) {
    super('FLEETSIM_JOIN', message);
    this.name = 'JoinError';
  }
}
