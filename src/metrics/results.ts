import { encodeHistogram, summarize } from './histogram.ts';
import type { LatencyHistogram, LatencySummary } from './histogram.ts';
import { createHistogram } from './histogram.ts';
import type { GeneratorHealth } from './generator-monitor.ts';
import type { StatsEntry } from './stats.ts';

/** `fleetsim.results/v1`, as DESIGN.md specifies; fields are only ever added. */
export interface StatsRow {
  readonly type: string;
  readonly name: string;
  readonly requests: number;
  readonly failures: number;
  readonly timeouts: number;
  readonly rps: number;
  readonly failuresPerS: number;
  readonly bytesIn: number;
  readonly latencyMs: LatencySummary;
  readonly histogram: string;
  /** Paced attempts that started after their intended time. */
  readonly late: number;
  /** Pacing ticks skipped because a task overran by more than a whole interval. */
  readonly missed: number;
  /** MQTT acks that arrived after their attempt had timed out (each already counted as a timeout). */
  readonly lateAcks: number;
  /** Latency measured from the intended start (pacing only): what a saturated generator cannot hide. */
  readonly intendedLatencyMs?: LatencySummary;
}

export interface ThresholdResult {
  readonly expr: string;
  readonly ok: boolean;
  readonly value: number | null;
  /** Why a threshold could not be evaluated (value null). */
  readonly reason?: string;
}

export interface Results {
  readonly schema: 'fleetsim.results/v1';
  readonly tool: { readonly name: string; readonly version: string };
  readonly seed: string;
  readonly profile: { readonly path: string; readonly sha256: string };
  readonly shard: { readonly index: number; readonly count: number };
  readonly startedAt: string;
  readonly endedAt: string;
  readonly durationS: number;
  /** Seconds from the start until stop began (durationS less the drain); rates divide by this. */
  readonly activeS: number;
  readonly stopReason: string;
  /** Attempts still in flight when the drain timeout ended: aborted, and in no stats row. */
  readonly abandoned: number;
  readonly devices: DevicesSummary;
  /** Messages devices received on their MQTT sessions (runs with MQTT devices only). */
  readonly downlink?: { readonly received: number; readonly reactionsQueued: number; readonly reactionsDropped: number };
  readonly stats: readonly StatsRow[];
  readonly total: StatsRow;
  readonly failures: readonly { readonly type: string; readonly name: string; readonly error: string; readonly count: number }[];
  readonly generator: GeneratorHealth;
  readonly thresholds: readonly ThresholdResult[];
  readonly warnings: readonly string[];
}

export interface DevicesSummary {
  readonly target: number;
  readonly started: number;
  /** Online when the run began to stop: started, not finished, and with its MQTT session up. */
  readonly online: number;
  /** Devices online at each progress interval: [seconds since start, devices]. */
  readonly onlineOverTime?: readonly (readonly [number, number])[];
  /** Ms from the start until the devices online first reached the target (the first stage's, with stages); null if they never did. */
  readonly timeToAllOnlineMs?: number | null;
}

export interface ResultsInput {
  readonly version: string;
  readonly seed: string;
  readonly profilePath: string;
  readonly profileSha256: string;
  readonly startedAt: Date;
  readonly endedAt: Date;
  /** Ms from the start until stop began; defaults to the whole run. */
  readonly activeMs?: number;
  readonly stopReason: string;
  readonly abandoned?: number;
  readonly devices: Results['devices'];
  readonly entries: readonly StatsEntry[];
  readonly generator: GeneratorHealth;
  readonly warnings: readonly string[];
}

const round = (value: number, digits = 3): number => Math.round(value * 10 ** digits) / 10 ** digits;

interface Counters {
  requests: number;
  failures: number;
  timeouts: number;
  bytesIn: number;
  late: number;
  missed: number;
  lateAcks: number;
}

function row(type: string, name: string, counters: Counters, latency: LatencyHistogram, intended: LatencyHistogram, seconds: number): StatsRow {
  const base: StatsRow = {
    type,
    name,
    requests: counters.requests,
    failures: counters.failures,
    timeouts: counters.timeouts,
    rps: round(counters.requests / seconds),
    failuresPerS: round(counters.failures / seconds),
    bytesIn: counters.bytesIn,
    latencyMs: summarize(latency),
    histogram: encodeHistogram(latency),
    late: counters.late,
    missed: counters.missed,
    lateAcks: counters.lateAcks,
  };
  return intended.totalCount > 0 ? { ...base, intendedLatencyMs: summarize(intended) } : base;
}

export function buildResults(input: ResultsInput): Omit<Results, 'thresholds'> {
  const wallSeconds = Math.max(0.001, (input.endedAt.getTime() - input.startedAt.getTime()) / 1000);
  const seconds = input.activeMs === undefined ? wallSeconds : Math.max(0.001, Math.min(wallSeconds, input.activeMs / 1000));
  const sorted = [...input.entries].sort((a, b) => a.name.localeCompare(b.name) || a.type.localeCompare(b.type));
  const totalLatency = createHistogram();
  const totalIntended = createHistogram();
  const totals: Counters = { requests: 0, failures: 0, timeouts: 0, bytesIn: 0, late: 0, missed: 0, lateAcks: 0 };
  const stats = sorted.map((entry) => {
    totalLatency.add(entry.latency);
    totalIntended.add(entry.intendedLatency);
    totals.requests += entry.requests;
    totals.failures += entry.failures;
    totals.timeouts += entry.timeouts;
    totals.bytesIn += entry.bytesIn;
    totals.late += entry.late;
    totals.missed += entry.missed;
    totals.lateAcks += entry.lateAcks;
    return row(entry.type, entry.name, entry, entry.latency, entry.intendedLatency, seconds);
  });
  const failures = sorted.flatMap((entry) => [...entry.errors].map(([error, count]) => ({ type: entry.type, name: entry.name, error, count })));
  failures.sort((a, b) => b.count - a.count);
  return {
    schema: 'fleetsim.results/v1',
    tool: { name: 'fleetsim', version: input.version },
    seed: input.seed,
    profile: { path: input.profilePath, sha256: input.profileSha256 },
    shard: { index: 0, count: 1 },
    startedAt: input.startedAt.toISOString(),
    endedAt: input.endedAt.toISOString(),
    durationS: round(wallSeconds),
    activeS: round(seconds),
    stopReason: input.stopReason,
    abandoned: input.abandoned ?? 0,
    devices: input.devices,
    stats,
    total: row('', 'Aggregated', totals, totalLatency, totalIntended, seconds),
    failures,
    generator: input.generator,
    warnings: input.warnings,
  };
}
