import type { HistoryPoint } from '../metrics/history.ts';
import { MergeError, ShardMerger } from './merge.ts';
import type { MergedResults } from './merge.ts';
import { historyTable, mergeHistories } from './merge-history.ts';
import type { WorkerRecord } from './coordinator.ts';

/** What became of one worker of a coordinated run. */
export interface CoordinatedWorker {
  readonly index: number;
  readonly from: string;
  readonly state: 'finished' | 'lost';
  /** Why it was lost: its process exited, or it went silent. */
  readonly lost?: string;
  /** Epoch ms its first interval began (its clock started at the barrier). */
  readonly runStartedAt: string | null;
  /** Intervals it streamed, and the attempts they counted (a lost worker's are its data up to its end). */
  readonly intervals: number;
  readonly requests: number;
}

export interface CoordinatedInfo {
  readonly workers: readonly CoordinatedWorker[];
  /** The common start the barrier gave. */
  readonly startAt: string | null;
  /** Between the first and the last worker's first interval beginning (wall clocks, so one machine's or NTP's). */
  readonly startSpreadMs: number | null;
  readonly lost: readonly number[];
}

export type CoordinatedResults = MergedResults & { readonly coordinator: CoordinatedInfo };

const intervalRequests = (points: readonly HistoryPoint[]): number => points.reduce((sum, point) => sum + point.total.requests, 0);

/**
 * A coordinated run's results: the finished workers' results merged as `merge` merges shards; a
 * lost worker is a missing shard whose streamed intervals stay in the history, and who it was,
 * why it was lost and what it counted until then are kept under `coordinator`.
 */
export function mergeCoordinated(workers: readonly WorkerRecord[], lostWhy: ReadonlyMap<number, string>, startAtMs: number | undefined, version: string): CoordinatedResults {
  const merger = new ShardMerger();
  for (const worker of workers) if (worker.results) merger.add({ source: `worker ${worker.index} (${worker.from})`, results: worker.results });
  if (!workers.some((worker) => worker.results)) throw new MergeError('no worker sent its results: nothing to report');
  const merged = merger.finish({ partial: true, version });
  const lostWithData = workers.filter((worker) => !worker.results && worker.points.length > 0);
  // A lost worker's intervals still happened: they stay in the fleet's history.
  const history =
    lostWithData.length === 0
      ? merged.history
      : mergeHistories(
          workers.flatMap((worker) => (worker.results ? [historyTable(worker.results.history)] : worker.points.length > 0 ? [historyTable(worker.points)] : [])),
          Date.parse(merged.startedAt),
        );
  const starts = workers.flatMap((worker) => (worker.runStartedAtMs === undefined ? [] : [worker.runStartedAtMs]));
  const info: CoordinatedInfo = {
    workers: workers.map((worker) => ({
      index: worker.index,
      from: worker.from,
      state: worker.results ? 'finished' : 'lost',
      ...(worker.results ? {} : { lost: lostWhy.get(worker.index) ?? 'sent no results' }),
      runStartedAt: worker.runStartedAtMs === undefined ? null : new Date(worker.runStartedAtMs).toISOString(),
      intervals: worker.results ? worker.results.history.length : worker.points.length,
      requests: worker.results ? worker.results.total.requests : intervalRequests(worker.points),
    })),
    startAt: startAtMs === undefined ? null : new Date(startAtMs).toISOString(),
    startSpreadMs: starts.length === 0 ? null : Math.max(...starts) - Math.min(...starts),
    lost: workers.filter((worker) => !worker.results).map((worker) => worker.index),
  };
  const lostWarnings = info.workers.flatMap((worker) =>
    worker.state === 'lost' ? [`worker ${worker.index} (${worker.from}) was lost (${worker.lost ?? ''}): its ${worker.requests} attempts until then are in the history, not in the stats rows`] : [],
  );
  return { ...merged, history, warnings: [...merged.warnings, ...lostWarnings], coordinator: info };
}
