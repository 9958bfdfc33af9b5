import type { Random } from '../../identity/rng.ts';
import type { StatsEntry } from '../../metrics/stats.ts';
import type { HttpExchange } from '../../transport/http/http-exchange.ts';
import type { HttpExchangePool } from '../../transport/http/http-exchange-pool.ts';
import type { AttemptResult } from '../../transport/types.ts';
import type { DeliveryTracker } from '../mqtt/delivery.ts';
import type { VirtualDevice } from './device.ts';
import type { SentAttempt } from '../mqtt/mqtt-attempt.ts';
import type { Schedulable } from '../schedule/scheduler.ts';

/** What a device needs from the run it belongs to. */
export interface DeviceHost {
  readonly stopping: boolean;
  readonly iterations: number | undefined;
  now(): number;
  /** Ms since run start for a clock time. */
  sinceStart(clockMs: number): number;
  schedule(item: Schedulable, dueAt: number): void;
  unschedule(item: Schedulable): void;
  /** Sends the request the exchange holds; the result comes back through the device's `httpEnded`. */
  sendHttp(exchange: HttpExchange): void;
  /** The exchanges devices borrow for each HTTP request, from `sendHttp` until their `httpEnded`. */
  readonly httpExchanges: HttpExchangePool;
  attemptStarted(): void;
  /** HTTP goes through one pool shared by the fleet (not a connection per device): requests may queue for a connection. */
  readonly sharedHttpPool: boolean;
  /** `queuedMicros`: an HTTP request's wait for a pool connection (-1: not measured), kept out of `latencyMicros`. */
  onAttempt(device: VirtualDevice, stats: StatsEntry, sent: SentAttempt, result: AttemptResult, latencyMicros: number, intendedMicros: number, late: boolean, queuedMicros?: number): void;
  onStarted(device: VirtualDevice): void;
  /** A message with a delivery header sent while its receiver was off the network reached it after. */
  queuedWhileOffline?(): void;
  onFinished(device: VirtualDevice): void;
  /** The stream a device's downlink reactions draw from, apart from its task stream; made when the first reaction runs. */
  reactionStream(deviceIndex: number): Random;
  /** End-to-end delivery measurement, in runs where some publish carries a delivery header. */
  readonly delivery?: DeliveryTracker | undefined;
  /** Counts of messages the devices received from their sessions. */
  readonly downlink: DownlinkCounts;
  /** The profile declared something the run contradicts (see AuthLifecycle): the run ends with this error. */
  misdeclared?(message: string): void;
}

export interface DownlinkCounts {
  received: number;
  /** Messages that matched a reaction and were queued to run it. */
  reactionsQueued: number;
  /** Messages that matched a reaction while its device already had a full queue. */
  reactionsDropped: number;
  /** Queued reactions that could not run: their message did not yield every capture. */
  reactionsFailed: number;
  /** Why they could not, with how often (`capture job: $.job is not in the message`). */
  readonly reactionFailures: Map<string, number>;
}
