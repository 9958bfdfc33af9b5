import { createHistogram, recordMicros } from './histogram.ts';
import type { LatencyHistogram } from './histogram.ts';
import type { Outcome } from '../transport/types.ts';

/** Everything measured for one (type, name) pair, e.g. (`POST`, `/data`). */
export class StatsEntry {
  requests = 0;
  failures = 0;
  timeouts = 0;
  bytesIn = 0;
  /** Paced attempts that started after their intended time. */
  late = 0;
  /** Pacing ticks skipped because this task overran by more than a whole interval. */
  missed = 0;
  /** MQTT acks that arrived after their attempt had timed out: counted here, never as successes. */
  lateAcks = 0;
  readonly latency: LatencyHistogram = createHistogram();
  /** Time from the intended start (pacing), which a saturated generator cannot hide. */
  readonly intendedLatency: LatencyHistogram = createHistogram();
  /** Latency since the last interval snapshot, for the history. */
  readonly intervalLatency: LatencyHistogram = createHistogram();
  intervalRequests = 0;
  intervalFailures = 0;
  readonly errors = new Map<string, number>();

  constructor(
    readonly type: string,
    readonly name: string,
  ) {}

  record(outcome: Outcome, error: string | undefined, latencyMicros: number, intendedMicros: number, bytesIn: number, late: boolean): void {
    this.requests++;
    this.intervalRequests++;
    this.bytesIn += bytesIn;
    if (late) this.late++;
    recordMicros(this.latency, latencyMicros);
    recordMicros(this.intervalLatency, latencyMicros);
    if (intendedMicros >= 0) recordMicros(this.intendedLatency, intendedMicros);
    if (outcome !== 'ok') {
      this.failures++;
      this.intervalFailures++;
      if (outcome === 'timeout') this.timeouts++;
      const label = error ?? outcome;
      this.errors.set(label, (this.errors.get(label) ?? 0) + 1);
    }
  }

  resetInterval(): void {
    this.intervalLatency.reset();
    this.intervalRequests = 0;
    this.intervalFailures = 0;
  }
}

/** A point of the run's history: what happened in the interval ending at `atMs`. */
export interface IntervalSnapshot {
  readonly atMs: number;
  readonly timestamp: number;
  readonly devicesOnline: number;
  readonly entries: readonly IntervalEntry[];
  readonly total: IntervalEntry;
}

export interface IntervalEntry {
  readonly type: string;
  readonly name: string;
  readonly requests: number;
  readonly failures: number;
  readonly intervalRequests: number;
  readonly intervalFailures: number;
  readonly intervalSeconds: number;
  readonly p50Ms: number;
  readonly p95Ms: number;
  readonly p99Ms: number;
  readonly maxMs: number;
  readonly meanMs: number;
}

/** Stats per (type, name). Entries are resolved once per task so recording does no lookup. */
export class RunStats {
  private readonly byKey = new Map<string, StatsEntry>();
  readonly entries: StatsEntry[] = [];
  readonly history: IntervalSnapshot[] = [];
  private readonly intervalTotal = createHistogram();
  private lastSnapshotMs = 0;

  entryFor(type: string, name: string): StatsEntry {
    const key = `${type} ${name}`;
    let entry = this.byKey.get(key);
    if (!entry) {
      entry = new StatsEntry(type, name);
      this.byKey.set(key, entry);
      this.entries.push(entry);
    }
    return entry;
  }

  /** Closes the current interval; `atMs` is ms since run start. */
  snapshot(atMs: number, devicesOnline: number): IntervalSnapshot {
    const seconds = Math.max(0.001, (atMs - this.lastSnapshotMs) / 1000);
    this.lastSnapshotMs = atMs;
    this.intervalTotal.reset();
    let requests = 0;
    let failures = 0;
    let intervalRequests = 0;
    let intervalFailures = 0;
    const entries = this.entries.map((entry) => {
      this.intervalTotal.add(entry.intervalLatency);
      requests += entry.requests;
      failures += entry.failures;
      intervalRequests += entry.intervalRequests;
      intervalFailures += entry.intervalFailures;
      const snapshot = intervalEntry(entry.type, entry.name, entry.requests, entry.failures, entry.intervalRequests, entry.intervalFailures, seconds, entry.intervalLatency);
      entry.resetInterval();
      return snapshot;
    });
    const total = intervalEntry('', 'Aggregated', requests, failures, intervalRequests, intervalFailures, seconds, this.intervalTotal);
    const snapshot: IntervalSnapshot = { atMs, timestamp: Date.now(), devicesOnline, entries, total };
    this.history.push(snapshot);
    return snapshot;
  }
}

function intervalEntry(
  type: string,
  name: string,
  requests: number,
  failures: number,
  intervalRequests: number,
  intervalFailures: number,
  intervalSeconds: number,
  histogram: LatencyHistogram,
): IntervalEntry {
  const empty = histogram.totalCount === 0;
  const ms = (micros: number): number => (empty ? 0 : Math.round(micros) / 1000);
  return {
    type,
    name,
    requests,
    failures,
    intervalRequests,
    intervalFailures,
    intervalSeconds,
    p50Ms: ms(histogram.getValueAtPercentile(50)),
    p95Ms: ms(histogram.getValueAtPercentile(95)),
    p99Ms: ms(histogram.getValueAtPercentile(99)),
    maxMs: ms(histogram.maxValue),
    meanMs: ms(histogram.mean),
  };
}
