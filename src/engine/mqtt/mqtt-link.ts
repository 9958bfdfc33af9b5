import { reconnectRandom } from '../../identity/rng.ts';
import type { Random } from '../../identity/rng.ts';
import type { StatsEntry } from '../../metrics/stats.ts';
import type { ReconnectPolicy } from '../../profile/types.ts';
import { MqttSession } from '../../transport/mqtt/mqtt.ts';
import type { SessionListener, SessionOptions } from '../../transport/mqtt/mqtt.ts';
import type { Outcome } from '../../transport/types.ts';
import type { SentAttempt } from './mqtt-attempt.ts';
import type { Schedulable } from '../schedule/scheduler.ts';

/** The device side of a link: what it does when its session comes and goes. */
export interface LinkedDevice {
  readonly deviceIndex: number;
  sessionUp(): void;
  /** `carried`: a persistent session keeps the publishes in flight and resends them after reconnecting. */
  sessionDown(reason: string, carried: boolean): void;
  message(topic: string, payload: Buffer, properties?: Buffer): void;
  /** What the next connect sends, from the options rendered when the device started (a Sparkplug will changes per connect). */
  connectOptions?(options: SessionOptions): SessionOptions;
}

export interface LinkHost {
  readonly stopping: boolean;
  now(): number;
  schedule(item: Schedulable, dueAt: number): void;
  unschedule(item: Schedulable): void;
  attemptStarted(): void;
  connectEnded(link: MqttLink, outcome: Outcome, error: string | undefined, latencyMicros: number, answered: boolean): void;
  sessionOnline(link: MqttLink): void;
  sessionOffline(link: MqttLink): void;
}

/** Delay before reconnect attempt `failures` (0 for the first): exponential, capped, with seeded jitter. */
export function backoffDelayMs(policy: ReconnectPolicy, failures: number, random: Random): number {
  const ceiling = Math.min(policy.maxMs, policy.minMs * policy.multiplier ** Math.min(failures, 64));
  return ceiling * (1 - policy.jitter * random());
}

/**
 * Keeps one device's MQTT session up: connects when the device starts, and after a loss or a failed
 * attempt reconnects with seeded exponential backoff, so a fleet that lost its broker comes back
 * spread out instead of in lockstep on a fixed reconnect period. Every attempt is a CONNECT attempt.
 */
export class MqttLink implements SessionListener, Schedulable {
  dueAt = 0;
  heapIndex = -1;
  readonly session = new MqttSession(this);
  readonly sent: SentAttempt;
  private failures = 0;
  private closed = false;
  /** The device finished: end the session once a connect in progress has its answer. */
  private finishing = false;
  /** A connect attempt is under way (CONNECT sent or the socket opening, no answer yet). */
  connecting = false;
  private closedPromise: Promise<void> | undefined;
  private random: Random | undefined;
  /** Numbers this link's CONNECT attempts in the request log: the device's `seq` belongs to its tasks. */
  private attempts = 0;
  /** Off the network by the device's lifecycle (asleep, rebooting, offline): it does not reconnect until resumed. */
  private suspended = false;

  constructor(
    readonly device: LinkedDevice,
    readonly stats: StatsEntry,
    private readonly options: SessionOptions,
    private readonly policy: ReconnectPolicy,
    /** The run's seed; the device's backoff stream is made at its first reconnect, as most devices never need one. */
    private readonly seed: string,
    private readonly host: LinkHost,
  ) {
    this.sent = { seq: 0, target: options.clientId, body: undefined, intendedAt: 0, timeMs: 0 };
  }

  get connected(): boolean {
    return this.session.connected;
  }

  /** The reconnect timer fired (or the device started). */
  wake(): void {
    if (this.closed || this.host.stopping || this.suspended) return;
    this.sent.seq = this.attempts++;
    this.sent.intendedAt = this.host.now();
    this.host.attemptStarted();
    this.connecting = true;
    this.session.connect(this.device.connectOptions ? this.device.connectOptions(this.options) : this.options);
  }

  connectEnded(outcome: Outcome, error: string | undefined, latencyMicros: number, answered: boolean): void {
    this.connecting = false;
    this.host.connectEnded(this, outcome, error, latencyMicros, answered);
    if (this.finishing) {
      if (!this.closed) void this.close(true);
      return;
    }
    if (outcome === 'ok') {
      this.failures = 0;
      this.host.sessionOnline(this);
      this.device.sessionUp();
    } else {
      this.retryLater();
    }
  }

  connectionLost(reason: string): void {
    if (this.finishing) return;
    this.host.sessionOffline(this);
    this.device.sessionDown(reason, !this.options.clean);
    this.retryLater();
  }

  message(topic: string, payload: Buffer, properties?: Buffer): void {
    this.device.message(topic, payload, properties);
  }

  /**
   * The device is done: a connect in flight is answered first (it counts, like any attempt in flight
   * at stop), then the session ends with a DISCONNECT. Resolves when it has.
   */
  finish(): Promise<void> {
    this.finishing = true;
    this.host.unschedule(this);
    if (this.connecting) return new Promise((resolve) => (this.whenClosed ??= []).push(resolve));
    return this.close(true);
  }

  /** Made when a finish waits on a connect in flight: an idle link holds none. */
  private whenClosed: (() => void)[] | undefined;

  close(graceful: boolean): Promise<void> {
    this.closed = true;
    this.closedPromise ??= this.session.close(graceful).then(() => {
      const waiting = this.whenClosed;
      this.whenClosed = undefined;
      if (waiting) for (const resolve of waiting) resolve();
    });
    return this.closedPromise;
  }

  /**
   * The device leaves the network. `sleep`: a DISCONNECT that keeps a persistent session (the broker
   * queues for it meanwhile); `drop`: the connection is lost without one (a reboot, a tunnel), and
   * what waited on it ends as on any lost connection.
   */
  suspend(mode: 'sleep' | 'drop', reason: string): void {
    if (this.closed || this.finishing || this.suspended) return;
    this.suspended = true;
    this.host.unschedule(this);
    if (mode === 'drop') return this.session.drop(reason);
    if (this.session.connected) {
      this.host.sessionOffline(this);
      this.device.sessionDown(reason, !this.options.clean);
    }
    void this.session.close(true, 2000, true);
  }

  /** Back on the network: connects now, with the backoff reset. */
  resume(): void {
    if (!this.suspended) return;
    this.suspended = false;
    this.failures = 0;
    this.host.unschedule(this);
    this.wake();
  }

  private retryLater(): void {
    if (this.closed || this.host.stopping || this.suspended) return;
    this.random ??= reconnectRandom(this.seed, this.device.deviceIndex);
    const delay = backoffDelayMs(this.policy, this.failures++, this.random);
    this.host.schedule(this, this.host.now() + delay);
  }
}
