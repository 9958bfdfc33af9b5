import type { Random } from '../identity/rng.ts';
import { weightedIndex } from '../identity/rng.ts';
import type { StatsEntry } from '../metrics/stats.ts';
import type { DeviceModel, HttpAction, PublishAction, Reaction, StepSpec, SubscribeAction, TaskSpec } from '../profile/types.ts';
import { actionType } from '../profile/types.ts';
import type { TemplateContext, TemplateValue } from '../template/context.ts';
import { HttpExchange } from '../transport/http-exchange.ts';
import type { HttpResultSink } from '../transport/http-exchange.ts';
import type { AttemptResult, Outcome } from '../transport/types.ts';
import { elapsedMicros } from './clock.ts';
import { applyCaptures, captureFromJson } from './captures.ts';
import { CONNECTION_CLOSED } from '../transport/mqtt.ts';
import { MqttAttempt } from './mqtt-attempt.ts';
import type { MqttAttemptOwner, SentAttempt } from './mqtt-attempt.ts';
import type { LinkedDevice, MqttLink } from './mqtt-link.ts';
import { encodePathChars } from './request-path.ts';
import type { Schedulable } from './scheduler.ts';
import { topicMatches } from './topic-match.ts';
import { isPaced, nextTick } from './wait.ts';
import type { NextTick } from './wait.ts';

/** A step with what the engine resolved for it once: its stats entry. */
export interface BoundStep {
  readonly spec: StepSpec;
  readonly stats: StatsEntry;
}

export interface BoundTask {
  readonly spec: TaskSpec;
  readonly steps: readonly BoundStep[];
}

export interface BoundReaction {
  readonly reaction: Reaction;
  readonly task: BoundTask;
  /** The SUBSCRIBE made for it on every connect. */
  readonly subscribe: BoundStep;
}

export interface BoundModel {
  readonly model: DeviceModel;
  readonly boot: readonly BoundTask[];
  readonly tasks: readonly BoundTask[];
  readonly reactions: readonly BoundReaction[];
  /** Tasks have intended start times (pacing, or each task on its own period). */
  readonly paced: boolean;
  readonly periodic: boolean;
  /** The largest burst of publishes one step sends. */
  readonly maxBurst: number;
}

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
  attemptStarted(): void;
  onAttempt(device: VirtualDevice, stats: StatsEntry, sent: SentAttempt, result: AttemptResult, latencyMicros: number, intendedMicros: number, late: boolean): void;
  onStarted(device: VirtualDevice): void;
  onFinished(device: VirtualDevice): void;
  /** Counts of messages the devices received from their sessions. */
  readonly downlink: DownlinkCounts;
}

export interface DownlinkCounts {
  received: number;
  /** Messages that matched a reaction and were queued to run it. */
  reactionsQueued: number;
  /** Messages that matched a reaction while its device already had a full queue. */
  reactionsDropped: number;
}

/** Timers fire a few ms late on a busy loop; a tick counts as late only beyond this. */
const LATE_TOLERANCE_MS = 10;
/** Messages waiting for their reaction beyond this are dropped: a device is not an unbounded queue. */
const MAX_QUEUED_REACTIONS = 64;

const enum Phase {
  Waiting,
  Boot,
  Loop,
  Done,
}

/**
 * One virtual device. It runs one task at a time; a task's steps run in order, an HTTP step one
 * attempt at a time, a publish step as a burst. Its state lives in fields and its completion
 * handlers are bound once: an attempt creates no closures here.
 */
export class VirtualDevice implements Schedulable, TemplateContext, MqttAttemptOwner, LinkedDevice, HttpResultSink {
  dueAt = 0;
  heapIndex = -1;
  seq = 0;
  repeatIndex = 0;
  /** Plain arrays, not Float64Arrays: a typed array and its buffer cost ~200 bytes per device before any data. */
  readonly walks: number[];
  readonly vars: TemplateValue[];
  /** Values captured by the attempt just finished; they replace `vars` only after it is logged, as what it sent. */
  private readonly staged: TemplateValue[];
  private readonly stagedSlots: number[] = [];
  private phase = Phase.Waiting;
  private bootStep = 0;
  private iterationsDone = 0;
  private intendedAt = 0;
  private readonly tick: NextTick = { startAt: 0, intendedAt: 0, missed: 0 };
  /** Next due time of each periodic task (clock ms); set when the loop starts. */
  private nextDue: number[] | undefined;

  // The task under way: its steps run in order, each `repeat` times, with `sleep` between attempts.
  private task: BoundTask | undefined;
  private taskIsBoot = false;
  private taskIsReaction = false;
  private taskIntendedAt = 0;
  private stepIndex = 0;
  /** An MQTT step waiting for the session to come (back) up. */
  private parked = false;

  // What is in flight for the task: one HTTP attempt, or a burst of MQTT attempts.
  private attempt: BoundStep | undefined;
  private attemptIsFirst = false;
  private attemptStart = 0n;
  private attemptStartedAt = 0;
  private burstPending = 0;
  private burstSize = 0;
  private sendingBurst = false;
  private burstLost = false;
  private readonly httpSent: SentAttempt = { seq: 0, target: '', body: undefined, intendedAt: 0 };
  /** Made on the first HTTP step: devices that only speak MQTT carry none. */
  private exchange: HttpExchange | undefined;

  // MQTT.
  link: MqttLink | undefined;
  // Arrays here are built at their final length: one that grows by push reserves 16 slots, and
  // at 10,000 devices each such array costs ~1.7 MB.
  private readonly mqttAttempts: MqttAttempt[];
  private readonly sideAttempts: MqttAttempt[];
  private readonly sideWaiters: (() => void)[] = [];
  private readonly reactionFilters: readonly string[];
  private readonly reactionQueue: { reaction: BoundReaction; payload: Buffer }[] = [];
  /** Where the loop resumes once queued reactions ran (clock ms), or -1. */
  private resumeAt = -1;

  constructor(
    readonly deviceIndex: number,
    readonly deviceId: string,
    readonly bound: BoundModel,
    readonly random: Random,
    private readonly host: DeviceHost,
  ) {
    const ranges = bound.model.walkRanges;
    // Walks start at a seeded point of their range, drawn before anything else so they never depend on task order.
    this.walks = ranges.map(([min, max]) => min + random() * (max - min));
    this.vars = new Array<TemplateValue>(bound.model.variables.length).fill('');
    this.staged = new Array<TemplateValue>(bound.model.variables.length).fill('');
    this.mqttAttempts = Array.from({ length: bound.maxBurst }, () => new MqttAttempt(this));
    this.sideAttempts = bound.reactions.map(() => new MqttAttempt(this));
    this.reactionFilters = bound.reactions.map((bound) => String(bound.reaction.topic.evaluate(this)));
  }

  get deviceModel(): string {
    return this.bound.model.name;
  }

  get inFlight(): boolean {
    return this.attempt !== undefined;
  }

  get finished(): boolean {
    return this.phase === Phase.Done;
  }

  wake(): void {
    if (this.phase === Phase.Waiting) {
      this.phase = this.bound.boot.length > 0 ? Phase.Boot : Phase.Loop;
      this.intendedAt = this.host.now();
      this.host.onStarted(this);
    }
    if (this.host.stopping || this.phase === Phase.Done) return this.finish();
    // Woken after a sleep between two attempts of the same task.
    if (this.task) return this.startAttempt();
    if (this.reactionQueue.length > 0) return this.startReaction(this.host.now());
    let task: BoundTask | undefined;
    this.taskIsBoot = this.phase === Phase.Boot;
    this.taskIsReaction = false;
    if (this.phase === Phase.Boot) {
      task = this.bound.boot[this.bootStep++];
      if (this.bootStep >= this.bound.boot.length) this.phase = Phase.Loop;
    } else {
      const limit = this.host.iterations;
      if (limit !== undefined && this.iterationsDone >= limit) return this.finish();
      if (this.bound.periodic) {
        task = this.duePeriodicTask();
        if (!task) return;
      } else {
        const tasks = this.bound.tasks;
        task = tasks.length === 1 ? tasks[0] : tasks[weightedIndex(this.random, this.bound.model.cumulativeWeights)];
        this.taskIntendedAt = this.intendedAt;
      }
      this.iterationsDone++;
    }
    if (!task) return this.finish();
    if (this.taskIsBoot) this.taskIntendedAt = this.intendedAt;
    this.beginTask(task);
  }

  private beginTask(task: BoundTask): void {
    this.task = task;
    this.stepIndex = 0;
    this.repeatIndex = 0;
    this.startAttempt();
  }

  /**
   * Each periodic task keeps its own timetable from a seeded phase; the earliest due runs next.
   * Returns undefined (and sleeps until then) when none is due yet.
   */
  private duePeriodicTask(): BoundTask | undefined {
    const tasks = this.bound.tasks;
    const now = this.host.now();
    let due = this.nextDue;
    if (!due) {
      due = this.nextDue = tasks.map((task) => now + this.random() * (task.spec.everyMs ?? 0));
    }
    let index = 0;
    for (let i = 1; i < due.length; i++) if ((due[i] as number) < (due[index] as number)) index = i;
    const dueAt = due[index] as number;
    if (dueAt > now + 1) {
      this.host.schedule(this, dueAt);
      return undefined;
    }
    const task = tasks[index] as BoundTask;
    const every = task.spec.everyMs ?? 1;
    let next = dueAt + every;
    if (now - next >= every) {
      const missed = Math.floor((now - next) / every);
      (task.steps[0] as BoundStep).stats.missed += missed;
      next += missed * every;
    }
    due[index] = next;
    this.taskIntendedAt = dueAt;
    return task;
  }

  private nextPeriodicDue(): number {
    let min = Infinity;
    for (const due of this.nextDue ?? []) if (due < min) min = due;
    return min;
  }

  private startAttempt(): void {
    const step = (this.task as BoundTask).steps[this.stepIndex] as BoundStep;
    const action = step.spec.action;
    if (action.kind !== 'http') {
      // An MQTT step waits for the session; the link wakes it on connect.
      if (!this.link?.connected) {
        this.parked = true;
        return;
      }
      return this.startMqttAttempts(step, action);
    }
    this.attempt = step;
    this.attemptIsFirst = this.stepIndex === 0 && this.repeatIndex === 0;
    const sent = this.httpSent;
    sent.seq = this.seq;
    const path = encodePathChars(String(action.path.evaluate(this)));
    const body = action.body ? action.body(this) : undefined;
    const exchange = (this.exchange ??= new HttpExchange(this.deviceIndex, this));
    exchange.prepare(action.method, path, action.fixedHeaders ?? this.renderHeaders(action), body, action.timeoutMs, action.expectStatus, step.spec.captures.length > 0);
    this.seq++;
    sent.target = path;
    sent.body = body;
    this.attemptStartedAt = this.host.now();
    sent.intendedAt = this.attemptIsFirst ? this.taskIntendedAt : this.attemptStartedAt;
    this.attemptStart = process.hrtime.bigint();
    this.host.sendHttp(exchange);
  }

  private renderHeaders(action: HttpAction): Record<string, string> {
    const headers: Record<string, string> = {};
    for (const [name, template] of action.headers) headers[name] = String(template.evaluate(this));
    return headers;
  }

  /** A publish step sends the rest of its repeats at once (a burst) unless it sleeps between them. */
  private startMqttAttempts(step: BoundStep, action: PublishAction | SubscribeAction): void {
    const spec = step.spec;
    const count = action.kind === 'publish' && spec.sleepMs === 0 ? spec.repeat - this.repeatIndex : 1;
    this.attempt = step;
    this.burstSize = count;
    this.burstPending = count;
    const now = this.host.now();
    this.attemptStartedAt = now;
    const firstRepeat = this.repeatIndex;
    // QoS 0 completes inside mqtt.js's publish call: the burst is finished after the loop, not in it.
    this.sendingBurst = true;
    for (let i = 0; i < count; i++) {
      this.repeatIndex = firstRepeat + i;
      const attempt = this.mqttAttempts[i] as MqttAttempt;
      attempt.first = this.stepIndex === 0 && this.repeatIndex === 0;
      attempt.inTask = true;
      attempt.seq = this.seq;
      attempt.target = String(action.topic.evaluate(this));
      attempt.body = action.kind === 'publish' ? action.payload(this) : undefined;
      this.seq++;
      attempt.startedAt = now;
      attempt.intendedAt = attempt.first ? this.taskIntendedAt : now;
      this.host.attemptStarted();
      attempt.begin(step.stats, action.timeoutMs);
      this.sendMqtt(attempt, step);
    }
    // The burst's repeats are counted when it ends, as one HTTP attempt is.
    this.repeatIndex = firstRepeat;
    this.sendingBurst = false;
    if (this.burstPending === 0) this.burstEnded();
  }

  private burstEnded(): void {
    const step = this.attempt as BoundStep;
    this.attempt = undefined;
    // mqtt.js fails a dying connection's acks before it reports the close; the next step waits a
    // tick, by when the session knows it is down, instead of publishing into the dead socket.
    const lost = this.burstLost;
    this.burstLost = false;
    this.advance(step, this.burstSize, this.host.now(), lost);
  }

  private sendMqtt(attempt: MqttAttempt, step: BoundStep): void {
    const session = (this.link as MqttLink).session;
    const action = step.spec.action;
    if (action.kind === 'publish') session.publish(attempt.target, attempt.body ?? '', action.qos, action.retain, action.timeoutMs, attempt.onAck);
    else if (action.kind === 'subscribe') session.subscribe(attempt.target, action.qos, attempt.onAck);
  }

  mqttAttemptEnded(attempt: MqttAttempt, outcome: Outcome, error: string | undefined, latencyMicros: number): void {
    const stats = attempt.stats as StatsEntry;
    const paced = attempt.inTask && attempt.first && this.bound.paced && !this.taskIsBoot && !this.taskIsReaction;
    const late = paced && attempt.startedAt - this.taskIntendedAt > LATE_TOLERANCE_MS;
    const intendedMicros = paced ? Math.max(latencyMicros, (this.host.now() - this.taskIntendedAt) * 1000) : -1;
    this.host.onAttempt(this, stats, attempt, { outcome, error, bytesIn: 0 }, latencyMicros, intendedMicros, late);
    if (!attempt.inTask) {
      const index = this.sideAttempts.indexOf(attempt);
      if (!attempt.reusable && index >= 0) this.sideAttempts.splice(index, 1);
      if (this.sideWaiters.length > 0 && !this.sideAttempts.some((side) => side.pending)) for (const resolve of this.sideWaiters.splice(0)) resolve();
      return;
    }
    // An attempt that may still hear from the broker is replaced, so a late ack cannot touch the next one.
    if (!attempt.reusable) {
      const index = this.mqttAttempts.indexOf(attempt);
      if (index >= 0) this.mqttAttempts[index] = new MqttAttempt(this);
    }
    if (error === CONNECTION_CLOSED) this.burstLost = true;
    if (--this.burstPending > 0 || this.sendingBurst) return;
    this.burstEnded();
  }

  /** Resolves once the subscriptions made on connect have their answers (each is bounded by its timeout). */
  sideAttemptsSettled(): Promise<void> {
    if (!this.sideAttempts.some((side) => side.pending)) return Promise.resolve();
    return new Promise((resolve) => this.sideWaiters.push(resolve));
  }

  /** The session is up: subscribe what the reactions listen to, then resume a parked step. */
  sessionUp(): void {
    const reactions = this.bound.reactions;
    for (let i = 0; i < reactions.length; i++) {
      const reaction = reactions[i] as BoundReaction;
      let attempt = this.sideAttempts.find((candidate) => candidate.reusable);
      if (!attempt) {
        attempt = new MqttAttempt(this);
        this.sideAttempts.push(attempt);
      }
      attempt.inTask = false;
      attempt.first = false;
      attempt.seq = this.seq++;
      attempt.target = this.reactionFilters[i] ?? '';
      attempt.body = undefined;
      attempt.startedAt = attempt.intendedAt = this.host.now();
      this.host.attemptStarted();
      attempt.begin(reaction.subscribe.stats, reaction.subscribe.spec.action.timeoutMs);
      this.sendMqtt(attempt, reaction.subscribe);
    }
    if (this.parked && this.phase !== Phase.Done) {
      this.parked = false;
      this.startAttempt();
    }
  }

  /** The session dropped: what waited for an answer on it has failed. */
  sessionDown(reason: string): void {
    for (const attempt of [...this.mqttAttempts, ...this.sideAttempts]) attempt.fail(reason);
  }

  message(topic: string, payload: Buffer): void {
    const downlink = this.host.downlink;
    downlink.received++;
    if (this.phase === Phase.Done || this.phase === Phase.Waiting || this.host.stopping) return;
    const index = this.reactionFilters.findIndex((filter) => topicMatches(filter, topic));
    const reaction = this.bound.reactions[index];
    if (!reaction) return;
    if (this.reactionQueue.length >= MAX_QUEUED_REACTIONS) {
      downlink.reactionsDropped++;
      return;
    }
    downlink.reactionsQueued++;
    this.reactionQueue.push({ reaction, payload });
    // Idle between tasks: react now, and come back to the schedule after.
    if (!this.task && this.heapIndex >= 0) {
      this.resumeAt = this.dueAt;
      this.host.unschedule(this);
      this.startReaction(this.host.now());
    }
  }

  private startReaction(resumeAt: number): void {
    const next = this.reactionQueue.shift();
    if (!next) return;
    if (this.resumeAt < 0) this.resumeAt = resumeAt;
    const captures = next.reaction.reaction.captures;
    if (captures.length > 0) applyCaptures(captureFromJson(captures, next.payload.toString('utf8')), this.vars);
    this.taskIsBoot = false;
    this.taskIsReaction = true;
    this.taskIntendedAt = this.host.now();
    this.beginTask(next.reaction.task);
  }

  httpEnded(received: AttemptResult): void {
    const step = this.attempt as BoundStep;
    const latencyMicros = elapsedMicros(this.attemptStart);
    const endedAt = this.host.now();
    const captures = step.spec.captures;
    let result = received;
    if (captures.length > 0 && received.outcome === 'ok') {
      const captured = captureFromJson(captures, received.body ?? '');
      if (typeof captured === 'string') result = { outcome: 'failure', error: captured, bytesIn: received.bytesIn };
      else for (const [slot, value] of captured) this.stage(slot, value);
    }
    // Pacing promises when a task starts, so only its first attempt can be late.
    const paced = this.bound.paced && !this.taskIsBoot && !this.taskIsReaction && this.attemptIsFirst;
    const late = paced && this.attemptStartedAt - this.taskIntendedAt > LATE_TOLERANCE_MS;
    // A wake can come up to a millisecond before its due time; never report less than the service time.
    const intendedMicros = paced ? Math.max(latencyMicros, (endedAt - this.taskIntendedAt) * 1000) : -1;
    this.attempt = undefined;
    this.host.onAttempt(this, step.stats, this.httpSent, result, latencyMicros, intendedMicros, late);
    for (const slot of this.stagedSlots) this.vars[slot] = this.staged[slot] as TemplateValue;
    this.stagedSlots.length = 0;
    this.advance(step, 1, endedAt);
  }

  private stage(slot: number, value: TemplateValue): void {
    this.staged[slot] = value;
    this.stagedSlots.push(slot);
  }

  /** After `attempts` of `step` ended: the next attempt, step, or task. */
  private advance(step: BoundStep, attempts: number, endedAt: number, deferNext = false): void {
    const task = this.task as BoundTask;
    if (this.host.stopping || this.phase === Phase.Done) return this.finish();
    this.repeatIndex += attempts;
    if (this.repeatIndex >= step.spec.repeat) {
      this.repeatIndex = 0;
      this.stepIndex++;
    }
    if (this.stepIndex < task.steps.length) {
      if (step.spec.sleepMs > 0 || deferNext) this.host.schedule(this, endedAt + step.spec.sleepMs);
      else this.startAttempt();
      return;
    }
    this.task = undefined;
    if (this.taskIsReaction) {
      const resumeAt = this.resumeAt;
      this.resumeAt = -1;
      if (this.reactionQueue.length > 0) return this.startReaction(resumeAt);
      this.host.schedule(this, Math.max(resumeAt, endedAt));
      return;
    }
    if (this.taskIsBoot) {
      this.intendedAt = endedAt;
      return this.scheduleNext(endedAt);
    }
    // The last iteration ends the device now, not after one more wait.
    const limit = this.host.iterations;
    if (limit !== undefined && this.iterationsDone >= limit) return this.finish();
    if (this.bound.periodic) return this.scheduleNext(Math.max(endedAt, this.nextPeriodicDue()));
    // The first looped task starts right after boot; the pacing grid is anchored there.
    const tick = nextTick(this.bound.model.wait, this.random, this.taskIntendedAt, endedAt, this.tick);
    (task.steps[0] as BoundStep).stats.missed += tick.missed;
    this.intendedAt = tick.intendedAt;
    this.scheduleNext(tick.startAt);
  }

  /** Messages that arrived during a task are answered before the wait for the next one. */
  private scheduleNext(dueAt: number): void {
    if (this.reactionQueue.length > 0) return this.startReaction(dueAt);
    this.host.schedule(this, dueAt);
  }

  finish(): void {
    if (this.phase === Phase.Done) return;
    this.phase = Phase.Done;
    this.task = undefined;
    this.parked = false;
    this.reactionQueue.length = 0;
    this.host.onFinished(this);
  }
}

export function bindModel(model: DeviceModel, entryFor: (type: string, name: string) => StatsEntry): BoundModel {
  const bindStep = (spec: StepSpec): BoundStep => ({ spec, stats: entryFor(actionType(spec.action), spec.name) });
  const bind = (spec: TaskSpec): BoundTask => ({ spec, steps: spec.steps.map(bindStep) });
  const reactions = model.reactions.map((reaction) => ({
    reaction,
    task: bind(reaction.task),
    subscribe: bindStep({
      name: reaction.filterName,
      action: { kind: 'subscribe', topic: reaction.topic, qos: reaction.qos, timeoutMs: reaction.timeoutMs },
      repeat: 1,
      sleepMs: 0,
      captures: [],
    }),
  }));
  const allSteps = [...model.boot, ...model.tasks, ...model.reactions.map((reaction) => reaction.task)].flatMap((task) => task.steps);
  const maxBurst = Math.max(1, ...allSteps.map((step) => (step.action.kind === 'publish' && step.sleepMs === 0 ? step.repeat : 1)));
  const periodic = model.tasks.length > 0 && model.tasks.every((task) => task.everyMs !== undefined);
  return { model, boot: model.boot.map(bind), tasks: model.tasks.map(bind), reactions, paced: periodic || isPaced(model.wait), periodic, maxBurst };
}
