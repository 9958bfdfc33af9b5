import type { StatsEntry } from '../../metrics/stats.ts';
import type { Outcome } from '../../transport/types.ts';
import { elapsedMicros } from '../../util/clock.ts';

/** What the request log shows of one attempt. */
export interface SentAttempt {
  seq: number;
  /** The concrete path, topic or client id. */
  target: string;
  body: string | Buffer | undefined;
  /** How the request log shows a binary body (decoded, as JSON); undefined shows it in hex. */
  describe?: ((payload: Buffer) => string) | undefined;
  /** Clock ms the attempt was meant to start (the pacing tick for a task's first attempt). */
  intendedAt: number;
  /** The wall-clock ms its `now()`/`nowMs()` rendered (0: none used), which the request log shows as the call. */
  timeMs: number;
}

/** What the request log shows as a body: text as sent, bytes decoded (JSON) or as `hex:…`. */
export function loggedBody(sent: SentAttempt): string | undefined {
  const body = sent.body;
  if (body === undefined || typeof body === 'string') return body;
  return sent.describe ? sent.describe(body) : `hex:${body.toString('hex')}`;
}

export interface MqttAttemptOwner {
  mqttAttemptEnded(attempt: MqttAttempt, outcome: Outcome, error: string | undefined, latencyMicros: number, answered: boolean): void;
}

const enum State {
  Idle,
  Pending,
  /** Ended by our timeout or by losing the connection; the broker may still answer, and that must not count. */
  Retired,
}

/**
 * One PUBLISH or SUBSCRIBE in flight. It ends exactly once, as acked, timed out or failed. A device
 * reuses its attempts, so their ack callback is bound once; an attempt that ended without its ack
 * is retired and replaced, so an ack arriving later can only be counted as late, never as a success.
 */
export class MqttAttempt implements SentAttempt {
  seq = 0;
  target = '';
  body: string | Buffer | undefined;
  describe: ((payload: Buffer) => string) | undefined;
  intendedAt = 0;
  timeMs = 0;
  startedAt = 0;
  /** The first attempt of a task, whose lateness pacing measures. */
  first = false;
  /** Part of the device's running task (not a subscription made on connect). */
  inTask = false;
  /** The delivery seq of a measured publish, or -1. */
  deliverySeq = -1;
  stats: StatsEntry | undefined;
  /** A command's id, by which its reply finds it ('' for other attempts). */
  correlation = '';
  /** A command whose PUBLISH has not been acked: its ack may still come, so the attempt is not reused yet. */
  private publishOutstanding = false;
  private state = State.Idle;
  private start = 0n;
  private timer: NodeJS.Timeout | undefined;

  readonly onAck = (error?: string, answered?: boolean, grantedQos?: number): void => {
    // A SUBSCRIBE granted below the QoS asked for still succeeded; the downgrade is counted beside it.
    if (grantedQos !== undefined && this.stats) this.stats.qosDowngrades++;
    if (this.state === State.Retired) {
      if (error === undefined && this.stats) this.stats.lateAcks++;
      return;
    }
    if (this.state !== State.Pending) return;
    clearTimeout(this.timer);
    // A cleared Timeout kept in the field is ~120 bytes per attempt for nothing.
    this.timer = undefined;
    this.state = State.Idle;
    if (error !== undefined) this.owner.mqttAttemptEnded(this, 'failure', error, elapsedMicros(this.start), answered === true);
    else this.owner.mqttAttemptEnded(this, 'ok', undefined, elapsedMicros(this.start), true);
  };

  /**
   * A command's PUBLISH was acked (or written, at QoS 0): the command goes on waiting for its reply.
   * Only a failed PUBLISH ends it; the reply ends it through `onAck`.
   */
  readonly onSent = (error?: string, answered?: boolean): void => {
    this.publishOutstanding = false;
    if (error !== undefined && this.state === State.Pending) this.onAck(error, answered);
  };

  private readonly onTimeout = (): void => {
    if (this.state !== State.Pending) return;
    this.state = State.Retired;
    this.owner.mqttAttemptEnded(this, 'timeout', 'timeout', elapsedMicros(this.start), false);
  };

  constructor(private readonly owner: MqttAttemptOwner) {}

  get pending(): boolean {
    return this.state === State.Pending;
  }

  /** Still usable for the next attempt: it ended by its ack, so nothing more can arrive for it. */
  get reusable(): boolean {
    return this.state === State.Idle && !this.publishOutstanding;
  }

  /** A command's PUBLISH is about to go: its ack is awaited apart from the attempt's end. */
  commandSent(): void {
    this.publishOutstanding = true;
  }

  begin(stats: StatsEntry, timeoutMs: number): void {
    this.stats = stats;
    this.state = State.Pending;
    this.start = process.hrtime.bigint();
    this.timer = setTimeout(this.onTimeout, timeoutMs);
  }

  /** Ends it as failed (connection lost, run closed); a later ack is ignored or counted late. */
  fail(reason: string): void {
    if (this.state !== State.Pending) return;
    clearTimeout(this.timer);
    this.state = State.Retired;
    this.owner.mqttAttemptEnded(this, 'failure', reason, elapsedMicros(this.start), false);
  }
}
