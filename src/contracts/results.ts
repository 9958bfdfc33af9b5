// The shapes `fleetsim.results/v1` promises (DESIGN.md "Results JSON"). Types only: this folder
// imports from no other, so every layer, and any reader of the results, may depend on it.

import type { DeliverySummary } from './delivery.ts';
import type { GeneratorHealth, SaturationLimits } from './health.ts';
import type { HistoryPoint } from './history.ts';
import type { LatencySummary } from './latency.ts';
import type { LoadVerdict } from './load.ts';
import type { CommandSummary, FailureCount, SparkplugSummary } from './summaries.ts';

/** Why attempts still in flight at the end of a run were abandoned. */
export type AbandonCause = 'drain timeout' | 'second interrupt';

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
  readonly limits: SaturationLimits;
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
