import type { Random } from '../../identity/rng.ts';
import type { StatsEntry } from '../../metrics/stats.ts';
import type { CommandAction, PublishAction, SubscribeAction } from '../../profile/types.ts';
import type { HttpResultSink } from '../../transport/http/http-exchange.ts';
import type { AttemptResult, Outcome } from '../../transport/types.ts';
import type { BoundModel, BoundStep, BoundTask } from './bound-model.ts';
import { AuthLifecycle } from './auth-lifecycle.ts';
import type { CommandSender } from '../mqtt/commands.ts';
import { DeviceContext } from './device-context.ts';
import type { DeviceHost } from './device-host.ts';
import { DeviceMqtt } from './device-mqtt.ts';
import { HttpStepSender } from './http-step-sender.ts';
import type { MqttAttempt, MqttAttemptOwner } from '../mqtt/mqtt-attempt.ts';
import type { LinkedDevice, MqttLink } from '../mqtt/mqtt-link.ts';
import type { SessionOptions } from '../../transport/mqtt/mqtt.ts';
import { ReactionInbox } from './reaction-inbox.ts';
import type { SparkplugDevice, SparkplugNode } from '../mqtt/sparkplug/node.ts';
import type { Schedulable } from '../schedule/scheduler.ts';
import type { DeviceLifecycle } from './device-lifecycle.ts';
import { TaskSchedule } from '../schedule/task-schedule.ts';

const enum Phase {
  Waiting,
  Boot,
  Loop,
  Done,
}

/**
 * One virtual device. It runs one task at a time, the task's steps in order: an HTTP step one
 * attempt at a time (HttpStepSender), an MQTT step on its session (DeviceMqtt, which also hears the
 * session). TaskSchedule says which task is next and when; DeviceContext is what its templates see.
 * Between tasks it answers queued messages, and it leaves the network and comes back as its
 * lifecycle says. Its state lives in fields and its completion handlers are bound once: an attempt
 * creates no closures here.
 */
export class VirtualDevice extends DeviceContext implements Schedulable, MqttAttemptOwner, LinkedDevice, HttpResultSink, SparkplugDevice {
  dueAt = 0;
  heapIndex = -1;
  /** Commands in flight and their replies, for a model with command steps (set when it starts). */
  commands: CommandSender | undefined;
  private phase = Phase.Waiting;
  /** The load shape stopped this device: it ends its current task and starts nothing more. */
  private retired = false;
  /** Which task is next and when it is meant to start. */
  private readonly schedule: TaskSchedule;

  // The task under way: its steps run in order, each `repeat` times, with `sleep` between attempts.
  private task: BoundTask | undefined;
  private taskIsBoot = false;
  private taskIsReaction = false;
  private stepIndex = 0;
  /** An MQTT step waiting for the session to come (back) up. */
  private parked = false;
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

  /** The step in flight for the task: one HTTP attempt, or a burst of MQTT attempts. */
  private attempt: BoundStep | undefined;
  /** Made on its first HTTP step: devices that only speak MQTT carry none. */
  private http: HttpStepSender | undefined;

  // MQTT.
  link: MqttLink | undefined;
  /** Its side of the MQTT session, for a model that keeps one. */
  private readonly mqtt: DeviceMqtt | undefined;
  /** The Sparkplug edge node this device is (set when it starts), for models with a sparkplug section. */
  sparkplug: SparkplugNode | undefined;
  readonly inbox: ReactionInbox | undefined;
  /** The token lifecycle, for models that declare `auth`. */
  private readonly auth: AuthLifecycle | undefined;

  constructor(
    deviceIndex: number,
    deviceId: string,
    bound: BoundModel,
    random: Random,
    private readonly host: DeviceHost,
  ) {
    super(deviceIndex, deviceId, bound, random);
    this.schedule = new TaskSchedule(bound);
    this.inbox = bound.reactions.length > 0 ? new ReactionInbox(bound.reactions, this, host) : undefined;
    this.mqtt = bound.model.mqtt ? new DeviceMqtt(this, host) : undefined;
    this.auth = bound.auth && new AuthLifecycle(bound.auth, (message) => host.misdeclared?.(message));
  }

  /** No tasks: the device only receives on its subscriptions (a backend consumer). */
  get listening(): boolean {
    return this.bound.tasks.length === 0;
  }

  get inFlight(): boolean {
    return this.attempt !== undefined;
  }

  /** When the task under way was meant to start (clock ms): pacing times its first attempt from here. */
  get taskIntendedAt(): number {
    return this.schedule.taskIntendedAt;
  }

  /** The step whose attempts are in flight. */
  get stepInFlight(): BoundStep | undefined {
    return this.attempt;
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
   * next boot count, and the task it was in is dropped. Otherwise it goes on where it stopped (a
   * paced device between tasks on its grid: see TaskSchedule.gridTickFrom).
   */
  resume(reboot: boolean): void {
    this.suspended = false;
    if (this.phase === Phase.Done) return;
    const now = this.host.now();
    const wasDue = this.dueWhileSuspended;
    this.dueWhileSuspended = false;
    const schedule = this.schedule;
    const gridTick = wasDue && !reboot && this.task === undefined && this.phase === Phase.Loop ? schedule.gridTickFrom(now) : undefined;
    if (gridTick !== undefined) return this.host.schedule(this, gridTick);
    schedule.restartAt(now);
    if (reboot) {
      this.boots++;
      this.host.unschedule(this);
      this.task = undefined;
      this.parked = false;
      schedule.reboot();
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
      this.schedule.intendedAt = this.host.now();
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
    const schedule = this.schedule;
    let task: BoundTask | undefined;
    this.taskIsBoot = this.phase === Phase.Boot;
    this.taskIsReaction = false;
    if (this.phase === Phase.Boot) {
      task = schedule.nextBootTask();
      if (schedule.booted) this.phase = Phase.Loop;
    } else {
      // A device without tasks only listens: it idles until the run ends it.
      if (this.listening) return;
      if (schedule.ranOut(this.host.iterations)) return this.finish();
      if (this.bound.periodic) {
        task = schedule.nextPeriodicTask(this.host.now(), this.random);
        // None due yet: it sleeps until one is.
        if (!task) return this.host.schedule(this, schedule.nextDueAt);
      } else task = schedule.nextWeightedTask(this.random);
    }
    if (!task) return this.finish();
    this.beginTask(task);
  }

  private beginTask(task: BoundTask): void {
    this.task = task;
    this.stepIndex = 0;
    this.repeatIndex = 0;
    this.startAttempt();
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
    this.attempt = step;
    (this.http ??= new HttpStepSender(this, this.host)).send(step, first, this.taskIntendedAt);
  }

  /** Pacing promises when a loop task starts: only a first attempt of one is timed from its tick. */
  pacedFirst(first: boolean): boolean {
    return first && this.bound.paced && !this.taskIsBoot && !this.taskIsReaction;
  }

  /** A publish or command step sends the rest of its repeats at once unless it sleeps between them. */
  private startMqttAttempts(step: BoundStep, action: PublishAction | SubscribeAction | CommandAction): void {
    const spec = step.spec;
    const count = action.kind !== 'subscribe' && spec.sleepMs === 0 ? spec.repeat - this.repeatIndex : 1;
    this.attempt = step;
    (this.mqtt as DeviceMqtt).send(step, action, count, this.stepIndex === 0);
  }

  /** The `attempts` of the MQTT step in flight ended; `lost`: their connection went with them. */
  mqttStepEnded(attempts: number, lost: boolean): void {
    const step = this.attempt as BoundStep;
    this.attempt = undefined;
    this.advance(step, attempts, this.host.now(), lost);
  }

  /** Its reactions' SUBSCRIBEs are the device's attempts; its side of the session counts them. */
  mqttAttemptEnded(attempt: MqttAttempt, outcome: Outcome, error: string | undefined, latencyMicros: number, answered: boolean): void {
    this.mqtt?.mqttAttemptEnded(attempt, outcome, error, latencyMicros, answered);
  }

  /** Resolves once the subscriptions made on connect have their answers (each is bounded by its timeout). */
  subscriptionsSettled(): Promise<void> {
    return this.inbox?.subscriptionsSettled() ?? Promise.resolve();
  }

  sessionUp(): void {
    this.mqtt?.sessionUp();
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

  sessionDown(reason: string, carried: boolean): void {
    this.mqtt?.sessionDown(reason, carried);
  }

  message(topic: string, received: Buffer, properties?: Buffer): void {
    this.mqtt?.message(topic, received, properties);
  }

  /** A message matched reaction `first` (-1: none): it is queued, and runs now if the device is idle between tasks. */
  reactTo(first: number, payload: Buffer, properties: Buffer | undefined): void {
    if (this.phase === Phase.Done || this.phase === Phase.Waiting || this.host.stopping || this.retired) return;
    const inbox = this.inbox;
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
      this.schedule.taskIntendedAt = this.host.now();
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
    const http = this.http as HttpStepSender;
    this.attempt = undefined;
    const result = http.ended(step, received, this.pacedFirst(http.first), this.taskIntendedAt);
    const taskStep = this.task?.steps[this.stepIndex] ?? step;
    const next = this.auth && !this.host.stopping && !this.retired ? this.auth.after(step, result, http.startedAt, http.endedAt, this.vars) : undefined;
    if (next) return this.sendHttpStep(next, next === taskStep && this.stepIndex === 0 && this.repeatIndex === 0);
    this.advance(taskStep, 1, http.endedAt);
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
    // The first looped task starts right after boot; the pacing grid is anchored there.
    if (this.taskIsBoot) return this.scheduleNext(this.schedule.afterBootTask(endedAt));
    // The last iteration ends the device now, not after one more wait.
    if (this.schedule.ranOut(this.host.iterations)) return this.finish();
    this.scheduleNext(this.schedule.afterLoopTask(task, endedAt, this.random));
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
