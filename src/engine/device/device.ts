import type { Random } from '../../identity/rng.ts';
import { weightedIndex } from '../../identity/rng.ts';
import type { StatsEntry } from '../../metrics/stats.ts';
import type { CommandAction, HttpAction, PublishAction, SubscribeAction, WaitModel } from '../../profile/types.ts';
import type { TemplateContext, TemplateValue } from '../../template/context.ts';
import { HttpExchange } from '../../transport/http/http-exchange.ts';
import type { HttpResultSink } from '../../transport/http/http-exchange.ts';
import { isConnectionLoss } from '../../transport/mqtt/mqtt-labels.ts';
import type { AttemptResult, Outcome } from '../../transport/types.ts';
import { elapsedMicros } from '../../util/clock.ts';
import type { BoundModel, BoundReaction, BoundStep, BoundTask } from './bound-model.ts';
import { AuthLifecycle } from './auth-lifecycle.ts';
import { captureFromJson } from './captures.ts';
import type { CommandSender } from '../mqtt/commands.ts';
import type { DeviceHost } from './device-host.ts';
import { MqttAttempt } from '../mqtt/mqtt-attempt.ts';
import { renderMqttAttempt, sendMqttAttempt } from './mqtt-steps.ts';
import type { MqttAttemptOwner, SentAttempt } from '../mqtt/mqtt-attempt.ts';
import type { LinkedDevice, MqttLink } from '../mqtt/mqtt-link.ts';
import type { SessionOptions } from '../../transport/mqtt/mqtt.ts';
import { encodePathChars } from './request-path.ts';
import { PeriodicTimetable } from '../schedule/periodic-timetable.ts';
import { ReactionInbox } from './reaction-inbox.ts';
import type { SparkplugDevice, SparkplugNode } from '../mqtt/sparkplug/node.ts';
import type { Schedulable } from '../schedule/scheduler.ts';
import type { DeviceLifecycle } from './device-lifecycle.ts';
import { nextTick } from '../schedule/wait.ts';
import type { NextTick } from '../schedule/wait.ts';

/** An open wait model's period (pacing, throughput); undefined for closed ones. */
function pacingPeriodMs(wait: WaitModel): number | undefined {
  if (wait.model === 'pacing') return wait.intervalMs;
  if (wait.model === 'throughput') return 1000 / wait.perSecond;
  return undefined;
}

/** Timers fire a few ms late on a busy loop; a tick counts as late only beyond this. */
const LATE_TOLERANCE_MS = 10;

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
export class VirtualDevice implements Schedulable, TemplateContext, MqttAttemptOwner, LinkedDevice, HttpResultSink, SparkplugDevice {
  dueAt = 0;
  heapIndex = -1;
  seq = 0;
  repeatIndex = 0;
  /** Plain arrays, not Float64Arrays: a typed array and its buffer cost ~200 bytes per device before any data. */
  readonly walks: number[];
  readonly vars: TemplateValue[];
  /** The device's row of its fleet entry's data file (set when it starts), by data slot. */
  data: readonly string[] = [];
  timeMs = 0;
  /** While a command step renders: the device it goes to (`{{ target.id }}`). */
  targetId = '';
  targetIndex = -1;
  /** Commands in flight and their replies, for a model with command steps (set when it starts). */
  commands: CommandSender | undefined;
  /** While a reaction runs (MQTT 5): the Response Topic and Correlation Data of the message it answers. */
  replyTopic: string | undefined;
  replyCorrelation: Buffer | undefined;
  /** Values captured by the attempt just finished; they replace `vars` only after it is logged, as what it sent. */
  private readonly staged: TemplateValue[];
  private readonly stagedSlots: number[] = [];
  private phase = Phase.Waiting;
  /** The load shape stopped this device: it ends its current task and starts nothing more. */
  private retired = false;
  private bootStep = 0;
  private iterationsDone = 0;
  private intendedAt = 0;
  private readonly tick: NextTick = { startAt: 0, intendedAt: 0, missed: 0 };
  /** What templates and waits draw from: the task stream, or the reaction stream while a reaction runs. */
  random: Random;
  /** Set when the loop starts, for models whose tasks each have their own period. */
  private timetable: PeriodicTimetable | undefined;

  // The task under way: its steps run in order, each `repeat` times, with `sleep` between attempts.
  private task: BoundTask | undefined;
  private taskIsBoot = false;
  private taskIsReaction = false;
  private taskIntendedAt = 0;
  private stepIndex = 0;
  /** An MQTT step waiting for the session to come (back) up. */
  private parked = false;
  /** Boots so far, this one included ({{ device.boots }}): a reboot runs the boot tasks again with the next. */
  boots = 1;
  /** Off the network by its lifecycle (asleep, rebooting, offline): it starts nothing until it is back. */
  private suspended = false;
  /** Its schedule came due while it was off the network: it picks up there when back. */
  private dueWhileSuspended = false;
  /** Its sleeps, reboots and fleet events, when it has any. */
  lifecycle: DeviceLifecycle | undefined;
  /**
   * It has a simulated network link, so its own HTTP connection (not the shared pool): setting one
   * up is part of its first request's latency, as with `connectionPerDevice`, not a wait in a queue.
   */
  ownHttpConnection = false;

  // What is in flight for the task: one HTTP attempt, or a burst of MQTT attempts.
  private attempt: BoundStep | undefined;
  private attemptIsFirst = false;
  private attemptStart = 0n;
  private attemptStartedAt = 0;
  private burstPending = 0;
  private burstSize = 0;
  private sendingBurst = false;
  private burstLost = false;
  private readonly httpSent: SentAttempt = { seq: 0, target: '', body: undefined, intendedAt: 0, timeMs: 0 };
  /** Made on the first HTTP step: devices that only speak MQTT carry none. */
  private exchange: HttpExchange | undefined;

  // MQTT.
  link: MqttLink | undefined;
  /** The Sparkplug edge node this device is (set when it starts), for models with a sparkplug section. */
  sparkplug: SparkplugNode | undefined;
  // Arrays here are built at their final length: one that grows by push reserves 16 slots, and
  // at 10,000 devices each such array costs ~1.7 MB.
  private readonly mqttAttempts: MqttAttempt[];
  private readonly inbox: ReactionInbox | undefined;
  /** The token lifecycle, for models that declare `auth`. */
  private readonly auth: AuthLifecycle | undefined;

  constructor(
    readonly deviceIndex: number,
    readonly deviceId: string,
    readonly bound: BoundModel,
    /** The task stream: task choice, waits and the payloads of tasks, whatever the session does. */
    random: Random,
    private readonly host: DeviceHost,
  ) {
    this.random = random;
    const ranges = bound.model.walkRanges;
    // Walks start at a seeded point of their range, drawn before anything else so they never depend on task order.
    this.walks = ranges.map(([min, max]) => min + random() * (max - min));
    this.vars = new Array<TemplateValue>(bound.model.variables.length).fill('');
    this.staged = new Array<TemplateValue>(bound.model.variables.length).fill('');
    this.mqttAttempts = Array.from({ length: bound.maxBurst }, () => new MqttAttempt(this));
    this.inbox = bound.reactions.length > 0 ? new ReactionInbox(bound.reactions, this, host) : undefined;
    this.auth = bound.auth && new AuthLifecycle(bound.auth, (message) => host.misdeclared?.(message));
  }

  get deviceModel(): string {
    return this.bound.model.name;
  }

  /** No tasks: the device only receives on its subscriptions (a backend consumer). */
  get listening(): boolean {
    return this.bound.tasks.length === 0;
  }

  get inFlight(): boolean {
    return this.attempt !== undefined;
  }

  get finished(): boolean {
    return this.phase === Phase.Done;
  }

  /** No attempt in flight, no connect or subscription under way: a device falls asleep once they are done. */
  get idle(): boolean {
    return this.attempt === undefined && this.link?.connecting !== true && this.inbox?.subscribing !== true;
  }

  /** Leaves the network: the attempt in flight ends as it will, and nothing new starts until `resume`. */
  suspend(): void {
    this.suspended = true;
    if (this.heapIndex >= 0) {
      this.host.unschedule(this);
      this.dueWhileSuspended = true;
    }
  }

  /**
   * Back on the network. After a reboot the device starts over: its boot tasks run again with the
   * next boot count, and the task it was in is dropped. Otherwise it goes on where it stopped; a
   * paced device between tasks keeps its grid, skipping the ticks it slept through (not counted as
   * missed), so it sends one task per period of awake time, as the offered load counts.
   */
  resume(reboot: boolean): void {
    this.suspended = false;
    if (this.phase === Phase.Done) return;
    const now = this.host.now();
    const wasDue = this.dueWhileSuspended;
    this.dueWhileSuspended = false;
    const period = this.task === undefined && this.phase === Phase.Loop && !this.bound.periodic ? pacingPeriodMs(this.bound.model.wait) : undefined;
    if (period !== undefined && wasDue && !reboot) {
      // The next tick of the grid at or after now.
      const next = this.intendedAt + Math.max(0, Math.ceil((now - this.intendedAt) / period)) * period;
      this.intendedAt = next;
      this.host.schedule(this, next);
      return;
    }
    this.intendedAt = now;
    this.taskIntendedAt = now;
    if (reboot) {
      this.boots++;
      this.host.unschedule(this);
      this.task = undefined;
      this.parked = false;
      this.bootStep = 0;
      this.timetable = undefined;
      this.phase = this.bound.boot.length > 0 ? Phase.Boot : Phase.Loop;
      // An attempt still in flight ends first; its end finds no task and starts the boot.
      if (this.attempt === undefined) this.wake();
      return;
    }
    if (wasDue) this.wake();
  }

  wake(): void {
    if (this.phase === Phase.Waiting) {
      this.phase = this.bound.boot.length > 0 ? Phase.Boot : Phase.Loop;
      this.intendedAt = this.host.now();
      this.host.onStarted(this);
    }
    // Off the network (it may have started so): it picks up here when back.
    if (this.suspended && !this.host.stopping) {
      this.dueWhileSuspended = true;
      return;
    }
    if (this.host.stopping || this.phase === Phase.Done || this.retired) return this.finish();
    // Woken after a sleep between two attempts of the same task.
    if (this.task) return this.startAttempt();
    if (this.inbox?.waiting) return this.startReaction(this.host.now());
    let task: BoundTask | undefined;
    this.taskIsBoot = this.phase === Phase.Boot;
    this.taskIsReaction = false;
    if (this.phase === Phase.Boot) {
      task = this.bound.boot[this.bootStep++];
      if (this.bootStep >= this.bound.boot.length) this.phase = Phase.Loop;
    } else {
      // A device without tasks only listens: it idles until the run ends it.
      if (this.listening) return;
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

  /** The earliest-due periodic task, or undefined (sleeping until it is due) when none is due yet. */
  private duePeriodicTask(): BoundTask | undefined {
    const now = this.host.now();
    const timetable = (this.timetable ??= new PeriodicTimetable(this.bound.tasks, now, this.random));
    const dueAt = timetable.nextDueAt;
    if (dueAt > now + 1) {
      this.host.schedule(this, dueAt);
      return undefined;
    }
    this.taskIntendedAt = dueAt;
    return timetable.take(now);
  }

  private startAttempt(): void {
    const step = (this.task as BoundTask).steps[this.stepIndex] as BoundStep;
    const action = step.spec.action;
    if (action.kind !== 'http') {
      // An MQTT step waits for the session; the link wakes it on connect.
      if (!this.link?.connected || this.sparkplug?.born === false) {
        this.parked = true;
        return;
      }
      return this.startMqttAttempts(step, action);
    }
    const renewal = this.auth?.before(step, this.host.now());
    this.sendHttpStep(renewal ?? step, renewal === undefined && this.stepIndex === 0 && this.repeatIndex === 0);
  }

  /** Sends one HTTP attempt of `step`: the task's own, or one the token lifecycle put in. */
  private sendHttpStep(step: BoundStep, first: boolean): void {
    const action = step.spec.action as HttpAction;
    this.attempt = step;
    this.attemptIsFirst = first;
    const sent = this.httpSent;
    sent.seq = this.seq;
    this.timeMs = 0;
    const path = encodePathChars(String(action.path.evaluate(this)));
    const body = action.body ? action.body(this) : undefined;
    const exchange = (this.exchange ??= new HttpExchange(this.deviceIndex, this));
    exchange.prepare(action.method, path, action.fixedHeaders ?? this.renderHeaders(action), body, action.timeoutMs, action.expectStatus, step.spec.captures.length > 0);
    this.seq++;
    sent.target = path;
    sent.body = body;
    sent.timeMs = this.timeMs;
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
  private startMqttAttempts(step: BoundStep, action: PublishAction | SubscribeAction | CommandAction): void {
    const spec = step.spec;
    const count = action.kind !== 'subscribe' && spec.sleepMs === 0 ? spec.repeat - this.repeatIndex : 1;
    this.attempt = step;
    this.burstSize = count;
    this.burstPending = count;
    const now = this.host.now();
    this.attemptStartedAt = now;
    const firstRepeat = this.repeatIndex;
    // A publish the session refuses at once (not connected, over a broker's limit) calls back inside
    // the call: the burst is finished after the loop, not in it.
    this.sendingBurst = true;
    // One time for the whole burst, as one sensor reading sent several times.
    this.timeMs = 0;
    for (let i = 0; i < count; i++) {
      this.repeatIndex = firstRepeat + i;
      const attempt = this.mqttAttempts[i] as MqttAttempt;
      attempt.first = this.stepIndex === 0 && this.repeatIndex === 0;
      attempt.inTask = true;
      attempt.seq = this.seq;
      renderMqttAttempt(this, attempt, action);
      attempt.timeMs = this.timeMs;
      attempt.startedAt = now;
      attempt.intendedAt = attempt.first ? this.taskIntendedAt : now;
      this.host.attemptStarted();
      attempt.begin(step.stats, action.timeoutMs);
      // Properties are rendered as the publish is sent, from the same seq as its topic and payload.
      this.sendMqtt(attempt, step);
      this.seq++;
    }
    // The burst's repeats are counted when it ends, as one HTTP attempt is.
    this.repeatIndex = firstRepeat;
    this.sendingBurst = false;
    if (this.burstPending === 0) this.burstEnded();
  }

  private burstEnded(): void {
    const step = this.attempt as BoundStep;
    this.attempt = undefined;
    // A dying connection fails its acks before it reports the close; the next step waits a tick, by
    // when the session knows it is down, instead of publishing into the dead socket.
    const lost = this.burstLost;
    this.burstLost = false;
    this.advance(step, this.burstSize, this.host.now(), lost);
  }

  private sendMqtt(attempt: MqttAttempt, step: BoundStep): void {
    sendMqttAttempt(this, (this.link as MqttLink).session, attempt, step, this.host.delivery);
  }

  mqttAttemptEnded(attempt: MqttAttempt, outcome: Outcome, error: string | undefined, latencyMicros: number, answered: boolean): void {
    if (attempt.correlation !== '') this.commands?.ended(attempt, outcome === 'timeout');
    const stats = attempt.stats as StatsEntry;
    const paced = attempt.inTask && attempt.first && this.bound.paced && !this.taskIsBoot && !this.taskIsReaction;
    const late = paced && attempt.startedAt - this.taskIntendedAt > LATE_TOLERANCE_MS;
    const intendedMicros = paced ? Math.max(latencyMicros, (this.host.now() - this.taskIntendedAt) * 1000) : -1;
    this.host.onAttempt(this, stats, attempt, { outcome, error, bytesIn: 0, answered }, latencyMicros, intendedMicros, late);
    const delivery = this.host.delivery;
    if (delivery) delivery.attemptEnded(this.deviceIndex, attempt, outcome === 'ok', attempt.inTask ? -1 : (this.inbox?.filters.indexOf(attempt.target) ?? -1));
    if (!attempt.inTask) return this.inbox?.subscriptionEnded(attempt);
    // An attempt that may still hear from the broker is replaced, so a late ack cannot touch the next one.
    if (!attempt.reusable) {
      const index = this.mqttAttempts.indexOf(attempt);
      if (index >= 0) this.mqttAttempts[index] = new MqttAttempt(this);
    }
    if (error !== undefined && isConnectionLoss(error)) this.burstLost = true;
    if (outcome !== 'ok' && this.sparkplug && attempt.body !== undefined && (this.attempt?.spec.action as PublishAction | undefined)?.sparkplug !== undefined) this.sparkplug.lost();
    if (--this.burstPending > 0 || this.sendingBurst) return;
    this.burstEnded();
  }

  /** Resolves once the subscriptions made on connect have their answers (each is bounded by its timeout). */
  subscriptionsSettled(): Promise<void> {
    return this.inbox?.subscriptionsSettled() ?? Promise.resolve();
  }

  /** The session is up: subscribe what the reactions listen to, then resume a parked step. */
  sessionUp(): void {
    const reactions = this.bound.reactions;
    const inbox = this.inbox;
    for (let i = 0; inbox && i < reactions.length; i++) {
      const reaction = reactions[i] as BoundReaction;
      const attempt = inbox.subscription(i, this.host.now());
      this.host.attemptStarted();
      attempt.begin(reaction.subscribe.stats, reaction.subscribe.spec.action.timeoutMs);
      this.sendMqtt(attempt, reaction.subscribe);
    }
    // An edge node resumes its data once it has had its birth.
    if (this.sparkplug) return this.sparkplug.sessionUp();
    this.resumeParked();
  }

  resumeParked(): void {
    if (this.parked && this.phase !== Phase.Done) {
      this.parked = false;
      this.startAttempt();
    }
  }

  /** The will of the next connect, for an edge node: NDEATH with the next bdSeq. */
  connectOptions(options: SessionOptions): SessionOptions {
    return this.sparkplug ? { ...options, will: this.sparkplug.nextWill() } : options;
  }

  attemptStarted(): number {
    this.host.attemptStarted();
    return this.host.now();
  }

  recordAttempt(stats: StatsEntry, attempt: MqttAttempt, outcome: Outcome, error: string | undefined, latencyMicros: number, answered: boolean): void {
    this.host.onAttempt(this, stats, attempt, { outcome, error, bytesIn: 0, answered }, latencyMicros, -1, false);
  }

  /**
   * The session dropped: what waited for an answer on it has failed, except publishes a persistent
   * session carries to the next connection (they end at their ack, or their timeout, as usual).
   */
  sessionDown(reason: string, carried: boolean): void {
    if (!carried || this.attempt?.spec.action.kind !== 'publish') for (const attempt of [...this.mqttAttempts]) attempt.fail(reason);
    this.inbox?.failSubscriptions(reason);
    this.sparkplug?.sessionDown();
  }

  message(topic: string, received: Buffer, properties?: Buffer): void {
    this.host.downlink.received++;
    if (this.sparkplug?.message(topic, received)) return;
    const inbox = this.inbox;
    const first = inbox ? inbox.match(topic) : -1;
    const replies = first >= 0 && this.commands ? this.bound.reactions[first]?.reaction : undefined;
    if (replies?.commandReplies) return (this.commands as CommandSender).reply(replies, received, properties);
    const payload = this.host.delivery ? this.host.delivery.received(this.deviceIndex, topic, received, properties, inbox?.matched) : received;
    // Sent while this device was off the network and received now: its session's queue held it.
    if (this.lifecycle && this.host.delivery && this.lifecycle.sentWhileDown(this.host.delivery.lastSentMs)) this.host.queuedWhileOffline?.();
    if (this.phase === Phase.Done || this.phase === Phase.Waiting || this.host.stopping || this.retired) return;
    if (!inbox?.accept(first, payload, this.host.downlink, properties)) return;
    // Idle between tasks (or, with no tasks, idle for good): react now, and come back to the schedule after.
    if (!this.task && (this.heapIndex >= 0 || (this.listening && this.phase === Phase.Loop))) {
      inbox.resumeAt = this.heapIndex >= 0 ? this.dueAt : this.host.now();
      this.host.unschedule(this);
      this.startReaction(this.host.now());
    }
  }

  private startReaction(resumeAt: number): void {
    const inbox = this.inbox;
    if (!inbox) return;
    if (inbox.resumeAt < 0) inbox.resumeAt = resumeAt;
    const next = inbox.nextRunnable(this.vars, this.host.downlink);
    if (next) {
      this.replyTopic = next.responseTopic;
      this.replyCorrelation = next.correlation;
      this.taskIsBoot = false;
      inbox.enter();
      this.taskIsReaction = true;
      this.taskIntendedAt = this.host.now();
      return this.beginTask(next.reaction.task as BoundTask);
    }
    // Nothing queued could run: back to the schedule (and the tasks' seq and stream), as after a reaction.
    const resume = inbox.resumeAt;
    inbox.resumeAt = -1;
    inbox.leave();
    this.host.schedule(this, Math.max(resume, this.host.now()));
  }

  httpEnded(received: AttemptResult): void {
    const step = this.attempt as BoundStep;
    let latencyMicros = elapsedMicros(this.attemptStart);
    const endedAt = this.host.now();
    // In a shared pool, the wait for a free connection is fleetsim's queue, not the target's time:
    // it is measured apart and the latency runs from when the request got its connection.
    const connectedAt = (this.exchange as HttpExchange).connectedAt;
    let queuedMicros = -1;
    if (this.host.sharedHttpPool && !this.ownHttpConnection && connectedAt > 0n) {
      queuedMicros = Math.min(latencyMicros, Number(connectedAt - this.attemptStart) / 1000);
      latencyMicros -= queuedMicros;
    }
    const captures = step.spec.captures;
    let result = received;
    if (captures.length > 0 && received.outcome === 'ok') {
      const captured = captureFromJson(captures, received.body ?? '');
      if (typeof captured === 'string') result = { outcome: 'failure', error: captured, bytesIn: received.bytesIn, answered: true };
      else for (const [slot, value] of captured) this.stage(slot, value);
    }
    // Pacing promises when a task starts, so only its first attempt can be late.
    const paced = this.bound.paced && !this.taskIsBoot && !this.taskIsReaction && this.attemptIsFirst;
    const late = paced && this.attemptStartedAt - this.taskIntendedAt > LATE_TOLERANCE_MS;
    // A wake can come up to a millisecond before its due time; never report less than the service time.
    const intendedMicros = paced ? Math.max(latencyMicros, (endedAt - this.taskIntendedAt) * 1000) : -1;
    this.attempt = undefined;
    this.host.onAttempt(this, step.stats, this.httpSent, result, latencyMicros, intendedMicros, late, queuedMicros);
    for (const slot of this.stagedSlots) this.vars[slot] = this.staged[slot] as TemplateValue;
    this.stagedSlots.length = 0;
    const taskStep = this.task?.steps[this.stepIndex] ?? step;
    const next = this.auth && !this.host.stopping && !this.retired ? this.auth.after(step, result, this.attemptStartedAt, endedAt, this.vars) : undefined;
    if (next) return this.sendHttpStep(next, next === taskStep && this.stepIndex === 0 && this.repeatIndex === 0);
    this.advance(taskStep, 1, endedAt);
  }

  private stage(slot: number, value: TemplateValue): void {
    this.staged[slot] = value;
    this.stagedSlots.push(slot);
  }

  /** After `attempts` of `step` ended: the next attempt, step, or task. */
  private advance(step: BoundStep, attempts: number, endedAt: number, deferNext = false): void {
    if (this.host.stopping || this.phase === Phase.Done || this.retired) return this.finish();
    // A reboot came while the attempt was in flight: the device starts over (or waits to be back).
    if (this.task === undefined) return this.wake();
    const task = this.task;
    this.repeatIndex += attempts;
    if (this.repeatIndex >= step.spec.repeat) {
      this.repeatIndex = 0;
      this.stepIndex++;
    }
    if (this.stepIndex < task.steps.length) {
      if (step.spec.sleepMs > 0 || deferNext) this.host.schedule(this, endedAt + step.spec.sleepMs);
      else if (this.suspended) this.dueWhileSuspended = true;
      else this.startAttempt();
      return;
    }
    this.task = undefined;
    if (this.taskIsReaction) {
      const inbox = this.inbox as ReactionInbox;
      const resumeAt = inbox.resumeAt;
      inbox.resumeAt = -1;
      if (inbox.waiting) return this.startReaction(resumeAt);
      inbox.leave();
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
    if (this.timetable) return this.scheduleNext(Math.max(endedAt, this.timetable.nextDueAt));
    // The first looped task starts right after boot; the pacing grid is anchored there.
    const tick = nextTick(this.bound.model.wait, this.random, this.taskIntendedAt, endedAt, this.tick);
    (task.steps[0] as BoundStep).stats.missed += tick.missed;
    this.intendedAt = tick.intendedAt;
    this.scheduleNext(tick.startAt);
  }

  /** Messages that arrived during a task are answered before the wait for the next one. */
  private scheduleNext(dueAt: number): void {
    if (this.inbox?.waiting) return this.startReaction(dueAt);
    this.host.schedule(this, dueAt);
  }

  /**
   * Stops the device before the run ends (the load shape lowered the count): what is in flight ends
   * and counts as usual, then the device finishes; idle, waiting or parked, it finishes now.
   */
  retire(): void {
    if (this.phase === Phase.Done) return;
    this.retired = true;
    if (this.attempt !== undefined) return;
    this.host.unschedule(this);
    this.finish();
  }

  finish(): void {
    if (this.phase === Phase.Done) return;
    this.phase = Phase.Done;
    this.lifecycle?.stop();
    this.task = undefined;
    this.parked = false;
    this.inbox?.clear();
    this.sparkplug?.finish();
    this.host.onFinished(this);
  }
}
