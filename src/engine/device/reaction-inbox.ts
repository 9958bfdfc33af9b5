import type { TemplateContext, TemplateValue } from '../../template/context.ts';
import { applyCaptures, captureFromJson } from './captures.ts';
import type { Random } from '../../identity/rng.ts';
import type { BoundReaction } from './bound-model.ts';
import type { DeviceHost, DownlinkCounts } from './device-host.ts';
import { MqttAttempt } from '../mqtt/mqtt-attempt.ts';
import type { MqttAttemptOwner } from '../mqtt/mqtt-attempt.ts';
import { compileFilter, matchingFilter } from '../mqtt/topic-match.ts';
import type { TopicMatcher } from '../mqtt/topic-match.ts';
import { PublishProperty, readBytesProperty } from '../../transport/mqtt/mqtt-publish-extras.ts';

/** Messages waiting for their reaction beyond this are dropped: a device is not an unbounded queue. */
const MAX_QUEUED_REACTIONS = 64;

/** The device as its reactions see it: templates, attempts, and the seq and stream they swap. */
export type ReactingDevice = TemplateContext & MqttAttemptOwner & { seq: number; random: Random; readonly deviceIndex: number };

export interface QueuedReaction {
  readonly reaction: BoundReaction;
  readonly payload: Buffer;
  /** For a reaction that replies (MQTT 5): the message's Response Topic and Correlation Data (a copy). */
  readonly responseTopic?: string | undefined;
  readonly correlation?: Buffer | undefined;
}

/** What a reply needs of the message it answers, read while its property list is still valid. */
function replyFields(properties: Buffer | undefined): { responseTopic: string | undefined; correlation: Buffer | undefined } {
  const topic = properties && readBytesProperty(properties, PublishProperty.ResponseTopic);
  const correlation = properties && readBytesProperty(properties, PublishProperty.CorrelationData);
  return { responseTopic: topic?.toString('utf8'), correlation: correlation && Buffer.from(correlation) };
}

/**
 * A device's side of its reactions, for devices whose model has any (the others carry none): the
 * SUBSCRIBEs made for them on every connect, and the messages received and not yet reacted to.
 * Reactions run one at a time between the device's tasks.
 */
export class ReactionInbox {
  /** Each reaction's topic filter as this device subscribes it, rendered once. */
  readonly filters: readonly string[];
  /** Each filter compiled, a shared subscription's without its `$share/GROUP/`. */
  private readonly matchers: readonly TopicMatcher[];
  /**
   * Which filters the last message received matched (1) or not (0), by index in `filters`: a message
   * is matched once, and the reaction and delivery accounting both read the answer.
   */
  readonly matched: Uint8Array;
  private readonly queue: QueuedReaction[] = [];
  /** The request log's seq for the next SUBSCRIBE made on connect, counted apart from the device's tasks. */
  private subscribeSeq = 0;
  /** The seq of the next attempt a reaction makes: reactions are numbered apart from the device's tasks. */
  private reactionSeq = 0;
  /** Made when the first reaction runs. */
  private reactionRandom: Random | undefined;
  /** The device's task seq and stream, kept aside while reactions run (undefined when none does). */
  private taskSeq = 0;
  private taskRandom: Random | undefined;
  /** Where the loop resumes once queued reactions ran (clock ms), or -1. */
  resumeAt = -1;
  private readonly subscriptions: MqttAttempt[];
  private readonly settledWaiters: (() => void)[] = [];

  constructor(
    private readonly reactions: readonly BoundReaction[],
    private readonly device: ReactingDevice,
    private readonly host: Pick<DeviceHost, 'reactionStream'>,
  ) {
    this.filters = reactions.map((bound) => String(bound.reaction.topic.evaluate(device)));
    this.matchers = this.filters.map((filter) => compileFilter(matchingFilter(filter)));
    this.matched = new Uint8Array(this.filters.length);
    this.subscriptions = reactions.map(() => new MqttAttempt(device));
  }

  /**
   * Reaction `index`'s SUBSCRIBE for a connect at `now`, ready to begin: an attempt that ended by its
   * ack is reused. Numbered apart from the device's tasks: a reconnect's SUBSCRIBEs never shift what
   * the tasks send.
   */
  subscription(index: number, now: number): MqttAttempt {
    let attempt = this.subscriptions.find((candidate) => candidate.reusable);
    if (!attempt) {
      attempt = new MqttAttempt(this.device);
      this.subscriptions.push(attempt);
    }
    attempt.inTask = false;
    attempt.first = false;
    attempt.seq = this.subscribeSeq++;
    attempt.target = this.filters[index] ?? '';
    attempt.body = undefined;
    attempt.timeMs = 0;
    attempt.startedAt = attempt.intendedAt = now;
    return attempt;
  }

  /** A SUBSCRIBE ended: one that may still hear from the broker is let go, so a late SUBACK cannot touch the next. */
  subscriptionEnded(attempt: MqttAttempt): void {
    const index = this.subscriptions.indexOf(attempt);
    if (!attempt.reusable && index >= 0) this.subscriptions.splice(index, 1);
    if (this.settledWaiters.length > 0 && !this.subscriptions.some((side) => side.pending)) for (const resolve of this.settledWaiters.splice(0)) resolve();
  }

  /** Resolves once the SUBSCRIBEs made on connect have their answers (each is bounded by its timeout). */
  /** Some subscription made on connect still waits for its SUBACK. */
  get subscribing(): boolean {
    return this.subscriptions.some((side) => side.pending);
  }

  subscriptionsSettled(): Promise<void> {
    if (!this.subscriptions.some((side) => side.pending)) return Promise.resolve();
    return new Promise((resolve) => this.settledWaiters.push(resolve));
  }

  failSubscriptions(reason: string): void {
    for (const attempt of [...this.subscriptions]) attempt.fail(reason);
  }

  /** Matches a received message's topic against every filter into `matched`; returns the first match's index, or -1. */
  match(topic: string): number {
    let first = -1;
    for (let i = 0; i < this.matchers.length; i++) {
      const hit = (this.matchers[i] as TopicMatcher)(topic);
      this.matched[i] = hit ? 1 : 0;
      if (hit && first < 0) first = i;
    }
    return first;
  }

  /** Queues the message for the reaction at `index` (`match`'s answer); returns whether it was queued. */
  accept(index: number, payload: Buffer, downlink: DownlinkCounts, properties?: Buffer): boolean {
    const reaction = this.reactions[index];
    // A plain subscription (no steps) has nothing to run: the message was received, and that is all.
    if (!reaction?.task) return false;
    if (this.queue.length >= MAX_QUEUED_REACTIONS) {
      downlink.reactionsDropped++;
      return false;
    }
    downlink.reactionsQueued++;
    this.queue.push(reaction.replies ? { reaction, payload, ...replyFields(properties) } : { reaction, payload });
    return true;
  }

  /**
   * Reactions are about to run: messages come when the broker sends them, so what a reaction draws
   * and how many attempts it makes must not shift what the tasks send. It gets its own seq and stream.
   */
  enter(): void {
    const device = this.device;
    if (this.taskRandom !== undefined) return;
    this.taskRandom = device.random;
    this.taskSeq = device.seq;
    device.random = this.reactionRandom ??= this.host.reactionStream(device.deviceIndex);
    device.seq = this.reactionSeq;
  }

  /** The queued reactions ran: the tasks' seq and stream are back. */
  leave(): void {
    const device = this.device;
    if (this.taskRandom === undefined) return;
    this.reactionSeq = device.seq;
    device.seq = this.taskSeq;
    device.random = this.taskRandom;
    this.taskRandom = undefined;
  }

  get waiting(): boolean {
    return this.queue.length > 0;
  }

  /**
   * The next queued reaction that can run, its message's captures applied to `vars`. One whose
   * message lacks its captures would run on stale variables: it is dropped, counted with why.
   */
  nextRunnable(vars: TemplateValue[], downlink: DownlinkCounts): QueuedReaction | undefined {
    for (let next = this.queue.shift(); next; next = this.queue.shift()) {
      const captures = next.reaction.reaction.captures;
      if (captures.length === 0) return next;
      const captured = captureFromJson(captures, next.payload.toString('utf8'), 'message');
      if (typeof captured !== 'string') {
        applyCaptures(captured, vars);
        return next;
      }
      downlink.reactionsFailed++;
      downlink.reactionFailures.set(captured, (downlink.reactionFailures.get(captured) ?? 0) + 1);
    }
    return undefined;
  }

  clear(): void {
    this.queue.length = 0;
  }
}
