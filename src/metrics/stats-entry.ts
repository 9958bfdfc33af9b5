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
  /** SUBSCRIBEs the broker granted at a lower QoS than asked (each still a success). */
  qosDowngrades = 0;
  /** Attempts the fleet meant to start on this row (see OfferedLoad); fractional. */
  offered = 0;
  /** The fleet's plan offers load on this row: its attempts count as delivered load. */
  offers = false;
  /** Attempts counted against the offered load: all of this row's, when the plan offers load on it. */
  delivered = 0;
  /** Answers timed over a simulated link, and what the link added to them in all (ms). */
  linkSamples = 0;
  linkAddedMs = 0;
  /** Latency of answers: every attempt the target answered, a 4xx or an MQTT refusal included. */
  readonly latency: LatencyHistogram = createHistogram();
  /** Time spent by attempts that got no answer (refused, reset, timed out, lost): never the target's latency. */
  readonly failedLatency: LatencyHistogram = createHistogram();
  /** HTTP through a shared pool: each request's wait for a free connection, fleetsim's own queue. */
  readonly queued: LatencyHistogram = createHistogram();
  /** Time from the intended start (pacing), which a saturated generator cannot hide; answers only. */
  readonly intendedLatency: LatencyHistogram = createHistogram();
  /** Latency since the last interval snapshot, for the history. */
  readonly intervalLatency: LatencyHistogram = createHistogram();
  readonly intervalFailedLatency: LatencyHistogram = createHistogram();
  intervalRequests = 0;
  intervalFailures = 0;
  intervalTimeouts = 0;
  intervalBytesIn = 0;
  intervalOffered = 0;
  /** Summed pool wait of the interval's attempts, µs: with the latency's mean it tells fleetsim's queue from the target's. */
  intervalQueuedMicros = 0;
  readonly errors = new Map<string, number>();

  constructor(
    readonly type: string,
    readonly name: string,
  ) {}

  /** `answered` false: the attempt's time goes to `failedLatency`, not to the latency of answers. */
  record(outcome: Outcome, error: string | undefined, latencyMicros: number, intendedMicros: number, bytesIn: number, late: boolean, answered = outcome !== 'timeout'): void {
    this.requests++;
    this.intervalRequests++;
    if (this.offers) this.delivered++;
    this.bytesIn += bytesIn;
    this.intervalBytesIn += bytesIn;
    if (late) this.late++;
    if (answered || outcome === 'ok') {
      recordMicros(this.latency, latencyMicros);
      recordMicros(this.intervalLatency, latencyMicros);
      if (intendedMicros >= 0) recordMicros(this.intendedLatency, intendedMicros);
    } else {
      recordMicros(this.failedLatency, latencyMicros);
      recordMicros(this.intervalFailedLatency, latencyMicros);
    }
    if (outcome !== 'ok') {
      this.failures++;
      this.intervalFailures++;
      if (outcome === 'timeout') {
        this.timeouts++;
        this.intervalTimeouts++;
      }
      const label = error ?? outcome;
      this.errors.set(label, (this.errors.get(label) ?? 0) + 1);
    }
  }

  get intervalDelivered(): number {
    return this.offers ? this.intervalRequests : 0;
  }

  /** What a device's simulated link added to an answered attempt (µs). */
  recordLink(micros: number): void {
    this.linkSamples++;
    this.linkAddedMs += micros / 1000;
  }

  recordQueued(micros: number): void {
    recordMicros(this.queued, micros);
    this.intervalQueuedMicros += micros;
  }

  /** What the fleet meant to start on this row in the current interval. */
  offer(count: number): void {
    this.offered += count;
    this.intervalOffered += count;
  }

  /** Takes in what `source` measured in its current interval (a window's copy of a row). */
  absorbInterval(source: StatsEntry): void {
    this.latency.add(source.intervalLatency);
    this.failedLatency.add(source.intervalFailedLatency);
    this.requests += source.intervalRequests;
    this.failures += source.intervalFailures;
    this.timeouts += source.intervalTimeouts;
    this.bytesIn += source.intervalBytesIn;
    this.offered += source.intervalOffered;
    this.delivered += source.intervalDelivered;
    this.offers ||= source.offers;
  }

  /** Forgets everything measured (the statistics were reset); the row and its offer stay. */
  reset(): void {
    this.requests = this.failures = this.timeouts = this.bytesIn = 0;
    this.late = this.missed = this.lateAcks = this.qosDowngrades = 0;
    this.offered = this.delivered = 0;
    for (const histogram of [this.latency, this.failedLatency, this.queued, this.intendedLatency]) histogram.reset();
    this.errors.clear();
    this.resetInterval();
  }

  resetInterval(): void {
    this.intervalLatency.reset();
    this.intervalFailedLatency.reset();
    this.intervalRequests = 0;
    this.intervalFailures = 0;
    this.intervalTimeouts = 0;
    this.intervalBytesIn = 0;
    this.intervalOffered = 0;
    this.intervalQueuedMicros = 0;
  }
}
