import type { SparkplugSummary } from './sparkplug.ts';
import type { CommandSummary } from './commands.ts';
import { encodeHistogram, NO_LATENCY, summarize, summarizeOnly } from './histogram.ts';
import type { LatencyHistogram, LatencySummary, Percentile } from './histogram.ts';
import { createHistogram } from './histogram.ts';
import type { AbandonCause } from '../engine/events.ts';
import type { GeneratorHealth } from './generator-monitor.ts';
import { INTERVAL_SATURATION } from './history.ts';
import type { HistoryPoint } from './history.ts';
import type { DeliverySummary } from './delivery.ts';
import { failuresOf } from './failure-list.ts';
import type { FailureCount } from './failure-list.ts';
import { addCounters, zeroCounters } from './row-counters.ts';
import type { Counters } from './row-counters.ts';
import { rowTypeGroup } from './stats.ts';
import { loadVerdict } from './load-verdict.ts';
import type { LoadNoise, LoadTally, LoadVerdict } from './load-verdict.ts';
import type { SaturationSplit, StatsEntry } from './stats.ts';

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
  /** Latency of answers (any HTTP status that arrived, any MQTT ack); null fields when nothing was answered. */
  readonly latencyMs: LatencySummary;
  /** Time spent by attempts that got no answer (refused, reset, timed out, connection lost). */
  readonly failedLatencyMs: LatencySummary;
  readonly histogram: string;
  /** Paced attempts that started after their intended time. */
  readonly late: number;
  /** Pacing ticks skipped because a task overran by more than a whole interval. */
  readonly missed: number;
  /** MQTT acks that arrived after their attempt had timed out (each already counted as a timeout). */
  readonly lateAcks: number;
  /** SUBSCRIBEs granted at a lower QoS than asked (successes all); present only when some were. */
  readonly qosDowngrades?: number;
  /**
   * Rows the plan offers load on (tasks and boot tasks; never session setup, reactions or logins):
   * the attempts the fleet meant to start (fractional), the attempts counted against them, the
   * offered rate, and delivered ÷ offered. docs/measurement.md says how the offer is computed.
   */
  readonly offered?: number;
  readonly delivered?: number;
  readonly offeredRps?: number;
  readonly deliveredShare?: number;
  /**
   * Devices with a simulated network link (`network`): the answers whose time the link was measured
   * on, the time it added to them in all (ms: its delay of each attempt's last bytes each way), and
   * the mean it added to one. Part of `latencyMs`, which stays the target's plus the link's.
   */
  readonly linkSamples?: number;
  readonly linkAddedMs?: number;
  readonly linkMeanMs?: number;
  /** Latency measured from the intended start (pacing only): what a saturated generator cannot hide. */
  readonly intendedLatencyMs?: LatencySummary;
  /** HTTP through the shared pool: each request's wait for a free connection, kept out of `latencyMs`. */
  readonly queuedMs?: LatencySummary;
  /** The encoded histogram behind `intendedLatencyMs`, so `merge` recomputes it exactly. */
  readonly intendedHistogram?: string;
  /** The encoded histograms behind `failedLatencyMs` and `queuedMs`, so `merge` recomputes them exactly. */
  readonly failedHistogram?: string;
  readonly queuedHistogram?: string;
}

/** What a broker said of itself in `$SYS` during one run (Mosquitto's names; brokers without them give nulls). */
export interface BrokerStats {
  readonly source: '$SYS';
  /** PUBLISH packets the broker received from clients during the run (the change in `$SYS/broker/publish/messages/received`). */
  readonly publishReceived: number | null;
  readonly publishSent: number | null;
  readonly publishDropped: number | null;
  /** All MQTT packets received and sent during the run. */
  readonly messagesReceived: number | null;
  readonly messagesSent: number | null;
  /** `$SYS/broker/clients/connected`: the most seen, and the last (this probe's own connection included). */
  readonly clientsConnected: { readonly peak: number | null; readonly last: number | null };
  /**
   * The broker's own 1-minute load averages at the end (`$SYS/broker/load/.../1min`): messages (or
   * bytes) per minute, averaged over the last minute, as Mosquitto publishes them. Not per second.
   */
  readonly load1min: Readonly<Record<string, number>>;
  /** The unit of `load1min`, said in the results so nobody reads it as per second. */
  readonly loadUnit?: 'per minute';
  /**
   * What the figures do not cover, to read before comparing them with fleetsim's counts: Mosquitto's
   * `sent` counters leave out what it sends over a WebSocket listener.
   */
  readonly notes?: readonly string[];
  /** Whether a `$SYS` tick after the run ended was seen; if not, the counts may be up to one `$SYS` interval old. */
  readonly fresh: boolean;
}

export interface ThresholdResult {
  readonly expr: string;
  /** Passed or failed while the offered load was not delivered for a reason of fleetsim's or the machine's: it says nothing sure of the target. */
  readonly inconclusive?: boolean;
  /** The row the threshold read, e.g. `PUBLISH Aggregated` for a bare `p99 < 50ms` on an MQTT fleet. */
  readonly row?: string;
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
  /** Attempts still in flight when the drain ended: aborted, and in no stats row. */
  readonly abandoned: number;
  /**
   * What ended the drain with them in flight: its timeout, or a second interrupt (Ctrl-C or SIGTERM).
   * Merged shards that differ give each one's that abandoned any: `shard 0: second interrupt; shard 2: drain timeout`.
   */
  readonly abandonCause: AbandonCause | MixedAbandonCause;
  readonly devices: DevicesSummary;
  /** Messages devices received on their MQTT sessions (runs with MQTT devices only). */
  readonly downlink?: DownlinkSummary;
  /**
   * Device lifecycles (models with `lifecycle`, profiles with `events`): sleeps, wakes, reboots,
   * devices an offline window took, messages queued for devices while they were off the network
   * (those with a delivery header), and what the fleet events planned.
   */
  readonly lifecycle?: LifecycleSummary;
  /** End-to-end delivery of publishes sent with a delivery header: expected, delivered, lost, duplicated, out of order. */
  readonly delivery?: DeliverySummary;
  /** The broker's own `$SYS` figures for the run (`--broker-stats`). */
  readonly broker?: BrokerStats;
  /** MQTT keepalive checks, PINGREQs and how late the checks ran (runs with MQTT sessions only). */
  readonly keepalive?: KeepaliveStats;
  /** Sparkplug B edge nodes: births, rebirths, deaths and out-of-order seq per node (fleets with a sparkplug model). */
  readonly sparkplug?: SparkplugSummary;
  /** Commands with replies (fleets with a command step): per COMMAND row, replied, timed out, late, lost, failed. */
  readonly commands?: CommandSummary;
  readonly stats: readonly StatsRow[];
  readonly total: StatsRow;
  /** One aggregate per row type (`HTTP` for every method, `CONNECT`, `PUBLISH`, `SUBSCRIBE`). */
  readonly types: readonly StatsRow[];
  /**
   * The row a threshold without a selector reads: `Aggregated` when every row is traffic; when the
   * fleet keeps MQTT sessions, the aggregate of its traffic (HTTP and PUBLISH), so CONNECT and
   * SUBSCRIBE latencies never decide a bare `p95 < 500ms`.
   */
  readonly bareThresholdsRead: string;
  /** Per interval: counts, rates and latency per row, per type and in total, devices and the generator's health. */
  readonly history: readonly HistoryPoint[];
  /** Intervals in which the generator itself was saturated, and the latency without them. */
  readonly saturation: Saturation;
  readonly failures: readonly FailureCount[];
  readonly generator: GeneratorHealth;
  readonly thresholds: readonly ThresholdResult[];
  readonly warnings: readonly string[];
  /** The load the fleet meant to offer against what it delivered, and whose limit any shortfall was. */
  readonly load?: LoadVerdict;
  /** A run that ended more than 2 s past its planned end: by how much (a starved loop fires its timers late). */
  readonly overran?: { readonly plannedS: number; readonly byS: number };
}

/**
 * The keepalive path of a run's MQTT sessions. Every session is checked four times per keepalive
 * interval on one process-wide timer wheel; a check that runs late delays the session's PINGREQ
 * by as much, and a broker drops a session silent for 1.5 intervals.
 */
export interface KeepaliveStats {
  readonly checks: number;
  readonly pingsSent: number;
  /** How late checks ran after their due time: the event loop's delay on the keepalive path (ms, 1 ms steps below 1 s, 100 ms above). */
  readonly lateP50Ms: number;
  readonly lateP99Ms: number;
  /** The latest any check ran (merged: the worst shard's). */
  readonly lateMaxMs: number;
}

/** Shards' differing abandon causes, each as `shard I: cause`, joined by `; `. */
export type MixedAbandonCause = `shard ${number}: ${string}`;

export interface LifecycleSummary {
  readonly sleeps: number;
  readonly wakes: number;
  readonly reboots: number;
  readonly offline: number;
  readonly queuedWhileOffline: number;
  readonly planned: { readonly reboots: number; readonly offline: number };
}

export interface DownlinkSummary {
  readonly received: number;
  readonly reactionsQueued: number;
  readonly reactionsDropped: number;
  /** Queued reactions that did not run because their message did not yield every capture. */
  readonly reactionsFailed: number;
  readonly reactionFailures: readonly { readonly reason: string; readonly count: number }[];
}

export interface Saturation {
  /** An interval is saturated when the generator's event loop was at least this busy, or this late. */
  readonly limits: typeof INTERVAL_SATURATION;
  readonly intervals: number;
  readonly seconds: number;
  /** Attempts that finished in saturated intervals. */
  readonly requests: number;
  /** The whole run's latency (the `total` row's), beside the same without the saturated intervals. */
  readonly latencyMs: LatencySummary;
  readonly latencyMsExcludingSaturated: LatencySummary;
  /** The encoded histogram behind `latencyMsExcludingSaturated`, when any interval was saturated (else it is the total's). */
  readonly histogramExcludingSaturated?: string;
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
  readonly abandonCause?: Results['abandonCause'];
  /** The shard this process ran; the whole run when not given. */
  readonly shard?: Results['shard'];
  readonly devices: Results['devices'];
  readonly entries: readonly StatsEntry[];
  readonly history: readonly HistoryPoint[];
  readonly saturation: SaturationSplit;
  readonly generator: GeneratorHealth;
  readonly warnings: readonly string[];
  /** The delivered-share floor (`--min-delivered`); null: not checked. */
  readonly minDelivered?: number | null;
  /** How the offered count varies by chance, to tell a shortfall from counting noise. */
  readonly loadNoise?: LoadNoise;
  /** Some model waits for each answer (the advice on a target shortfall says what that means). */
  readonly closedModels?: boolean;
  /** The intervals' load judgements as they closed (RunStats.loadTally); a merge reads them off the history. */
  readonly loadTally?: LoadTally;
  /** The planned run time (`--duration`), to tell an overrun. */
  readonly plannedDurationMs?: number | undefined;
}

/** A run is said to overrun when it ends this long past its planned end. */
export const OVERRUN_TOLERANCE_MS = 2000;

const round = (value: number, digits = 3): number => Math.round(value * 10 ** digits) / 10 ** digits;

interface RowHistograms {
  readonly latency: LatencyHistogram;
  readonly failedLatency: LatencyHistogram;
  readonly intendedLatency: LatencyHistogram;
  readonly queued: LatencyHistogram;
}

/**
 * What a live view computes of each row: the answers' latency at `percentiles` (with min, mean and
 * max), nothing encoded, no failed, intended or queued summaries. Without it a row is complete.
 */
export interface LiveDetail {
  readonly percentiles: readonly Percentile[];
}

function row(type: string, name: string, counters: Counters, histograms: RowHistograms, seconds: number, live: LiveDetail | undefined): StatsRow {
  const { latency, failedLatency: failed, intendedLatency: intended, queued } = histograms;
  const base: StatsRow = {
    type,
    name,
    requests: counters.requests,
    failures: counters.failures,
    timeouts: counters.timeouts,
    rps: round(counters.requests / seconds),
    failuresPerS: round(counters.failures / seconds),
    bytesIn: counters.bytesIn,
    latencyMs: live ? summarizeOnly(latency, live.percentiles) : summarize(latency),
    failedLatencyMs: live ? NO_LATENCY : summarize(failed),
    histogram: live ? '' : encodeHistogram(latency),
    late: counters.late,
    missed: counters.missed,
    lateAcks: counters.lateAcks,
    ...(counters.qosDowngrades > 0 ? { qosDowngrades: counters.qosDowngrades } : {}),
    ...(counters.offered > 0
      ? { offered: round(counters.offered), delivered: counters.delivered, offeredRps: round(counters.offered / seconds), deliveredShare: round(counters.delivered / counters.offered, 4) }
      : {}),
    ...(counters.linkSamples > 0 ? { linkSamples: counters.linkSamples, linkAddedMs: round(counters.linkAddedMs), linkMeanMs: round(counters.linkAddedMs / counters.linkSamples) } : {}),
  };
  if (live) return base;
  return {
    ...base,
    ...(intended.totalCount > 0 ? { intendedLatencyMs: summarize(intended), intendedHistogram: encodeHistogram(intended) } : {}),
    ...(failed.totalCount > 0 ? { failedHistogram: encodeHistogram(failed) } : {}),
    ...(queued.totalCount > 0 ? { queuedMs: summarize(queued), queuedHistogram: encodeHistogram(queued) } : {}),
  };
}

/** Counters and histograms summed over several entries: the run's total, a type's, the traffic's. */
class RowSum {
  readonly latency = createHistogram();
  readonly failedLatency = createHistogram();
  readonly intendedLatency = createHistogram();
  readonly queued = createHistogram();
  readonly counters: Counters = zeroCounters();

  /** A live view's sums only the answers' latency, at a quarter of the copying. */
  constructor(private readonly live: LiveDetail | undefined) {}

  add(entry: StatsEntry): void {
    this.latency.add(entry.latency);
    if (!this.live) {
      this.failedLatency.add(entry.failedLatency);
      this.intendedLatency.add(entry.intendedLatency);
      this.queued.add(entry.queued);
    }
    addCounters(this.counters, entry);
  }

  row(type: string, name: string, seconds: number): StatsRow {
    return row(type, name, this.counters, this, seconds, this.live);
  }
}

function sumOf(entries: readonly StatsEntry[], live: LiveDetail | undefined): RowSum {
  const sum = new RowSum(live);
  for (const entry of entries) sum.add(entry);
  return sum;
}

/** Rows a bare threshold never reads: session setup, and DELIVER (the same messages again, seen by subscribers). */
const SESSION_TYPES = new Set(['CONNECT', 'SUBSCRIBE', 'DELIVER']);

/** The rows a set of entries yields over `seconds`: per (type, name), per type, the total, and which one a bare threshold reads. */
export type RowSet = Pick<Results, 'stats' | 'total' | 'types' | 'bareThresholdsRead'>;

/** With `live`, only what a live view reads is computed (see LiveDetail); the aggregates' failed, intended and queued summaries stay empty. */
export function buildRows(entries: readonly StatsEntry[], seconds: number, live?: LiveDetail): RowSet {
  const sorted = [...entries].sort((a, b) => a.name.localeCompare(b.name) || a.type.localeCompare(b.type));
  const groups = new Map<string, StatsEntry[]>();
  for (const entry of sorted) {
    const group = rowTypeGroup(entry.type);
    const members = groups.get(group);
    if (members) members.push(entry);
    else groups.set(group, [entry]);
  }
  const total = sumOf(sorted, live).row('', 'Aggregated', seconds);
  const stats = sorted.map((entry) => row(entry.type, entry.name, entry, entry, seconds, live));
  // A fleet of one type sums the same entries for its type as for the total: the same row, summed once.
  const typeRow = (group: string, members: readonly StatsEntry[]): StatsRow =>
    groups.size === 1 ? { ...total, type: group, name: `${group} Aggregated` } : sumOf(members, live).row(group, `${group} Aggregated`, seconds);
  const types = [...groups].sort(([a], [b]) => a.localeCompare(b)).map(([group, members]) => typeRow(group, members));
  const trafficGroups = [...groups.keys()].filter((group) => !SESSION_TYPES.has(group));
  let bareThresholdsRead = 'Aggregated';
  if (trafficGroups.length < groups.size && trafficGroups.length === 1) bareThresholdsRead = `${trafficGroups[0] ?? ''} Aggregated`;
  else if (trafficGroups.length < groups.size && trafficGroups.length > 1) {
    const name = trafficGroups.sort().join('+');
    const traffic = sorted.filter((entry) => !SESSION_TYPES.has(entry.type));
    types.push(sumOf(traffic, live).row(name, `${name} Aggregated`, seconds));
    bareThresholdsRead = `${name} Aggregated`;
  }
  return { stats, total, types, bareThresholdsRead };
}

export function buildResults(input: ResultsInput): Omit<Results, 'thresholds'> {
  const wallSeconds = Math.max(0.001, (input.endedAt.getTime() - input.startedAt.getTime()) / 1000);
  const seconds = input.activeMs === undefined ? wallSeconds : Math.max(0.001, Math.min(wallSeconds, input.activeMs / 1000));
  const { stats, total: totalRow, types, bareThresholdsRead } = buildRows(input.entries, seconds);
  const failures = failuresOf(input.entries);
  const load = totalRow.offered === undefined ? undefined : runLoad(input, totalRow, types, seconds);
  const overranMs = input.plannedDurationMs === undefined ? 0 : seconds * 1000 - input.plannedDurationMs;
  return {
    schema: 'fleetsim.results/v1',
    tool: { name: 'fleetsim', version: input.version },
    seed: input.seed,
    profile: { path: input.profilePath, sha256: input.profileSha256 },
    shard: input.shard ? { index: input.shard.index, count: input.shard.count } : { index: 0, count: 1 },
    startedAt: input.startedAt.toISOString(),
    endedAt: input.endedAt.toISOString(),
    durationS: round(wallSeconds),
    activeS: round(seconds),
    stopReason: input.stopReason,
    abandoned: input.abandoned ?? 0,
    abandonCause: input.abandonCause ?? 'drain timeout',
    devices: input.devices,
    stats,
    total: totalRow,
    types,
    bareThresholdsRead,
    failures,
    generator: input.generator,
    warnings: input.warnings,
    history: input.history,
    saturation: {
      limits: INTERVAL_SATURATION,
      intervals: input.saturation.intervals,
      seconds: input.saturation.seconds,
      requests: input.saturation.requests,
      latencyMs: totalRow.latencyMs,
      latencyMsExcludingSaturated: summarize(input.saturation.unsaturatedLatency),
      ...(input.saturation.intervals > 0 ? { histogramExcludingSaturated: encodeHistogram(input.saturation.unsaturatedLatency) } : {}),
    },
    ...(load ? { load } : {}),
    ...(input.plannedDurationMs !== undefined && overranMs > OVERRUN_TOLERANCE_MS ? { overran: { plannedS: round(input.plannedDurationMs / 1000), byS: round(overranMs / 1000) } } : {}),
  };
}

/** The unit the load is counted in: requests for HTTP, messages for PUBLISH, attempts for a mix. */
export function loadUnit(types: readonly StatsRow[]): string {
  const offered = types.filter((row) => row.offered !== undefined && !row.name.includes('+'));
  if (offered.length === 1 && offered[0]?.type === 'PUBLISH') return 'msg/s';
  if (offered.length === 1 && offered[0]?.type === 'HTTP') return 'req/s';
  if (offered.length === 1 && offered[0]?.type === 'COMMAND') return 'commands/s';
  return 'attempts/s';
}

function runLoad(input: ResultsInput, total: StatsRow, types: readonly StatsRow[], seconds: number): LoadVerdict {
  const queue = total.queuedMs?.mean != null && total.latencyMs.mean !== null ? { queuedMeanMs: total.queuedMs.mean, latencyMeanMs: total.latencyMs.mean } : undefined;
  return loadVerdict({
    floor: input.minDelivered ?? null,
    offered: total.offered ?? 0,
    delivered: total.delivered ?? 0,
    seconds,
    intervals: input.history,
    generator: input.generator,
    queue,
    unit: loadUnit(types),
    ...(input.loadNoise === undefined ? {} : { noise: input.loadNoise }),
    ...(input.loadTally === undefined ? {} : { tally: input.loadTally }),
    ...(input.closedModels ? { closedModels: true } : {}),
  });
}
