import { EventEmitter } from 'node:events';
import { FleetsimError } from '../errors.ts';
import { reactionRandom } from '../identity/rng.ts';
import type { Random } from '../identity/rng.ts';
import type { CommandRoutes } from './mqtt/commands.ts';
import type { SparkplugTally } from '../metrics/sparkplug.ts';
import type { RunStats, StatsEntry } from '../metrics/stats.ts';
import type { RunPlan } from '../profile/types.ts';
import type { HttpExchange } from '../transport/http/http-exchange.ts';
import type { AttemptResult, Outcome } from '../transport/types.ts';
import { compose } from './compose.ts';
import type { EngineOptions, EngineParts } from './compose.ts';
import { warmStart } from './device/http-warm-start.ts';
import type { VirtualDevice } from './device/device.ts';
import type { DeviceHost, DownlinkCounts } from './device/device-host.ts';
import type { AbandonCause, AttemptRecord, EngineEvents, StopReason } from './events.ts';
import type { FleetLifecycle } from './fleet/fleet-lifecycle.ts';
import { globalIndex, localIndex, ownedBelow } from './fleet/shard.ts';
import type { Shard } from './fleet/shard.ts';
import { loggedBody } from './mqtt/mqtt-attempt.ts';
import type { SentAttempt } from './mqtt/mqtt-attempt.ts';
import type { DeliveryTracker } from './mqtt/delivery.ts';
import type { LinkHost, MqttLink } from './mqtt/mqtt-link.ts';
import type { OfferedLoad } from './schedule/offered-load.ts';
import { Ramp } from './schedule/ramp.ts';
import type { RampHost } from './schedule/ramp.ts';
import type { Schedulable } from './schedule/scheduler.ts';
import { StageDriver } from './schedule/stages.ts';
import type { RampControl } from './schedule/stages.ts';
import { takeAnomalies } from '../template/generators/anomaly-labels.ts';

export type { EngineOptions, IntervalSampler } from './compose.ts';

export interface RunTimes {
  readonly startedAt: Date;
  readonly endedAt: Date;
  readonly durationMs: number;
  /** From the start until stop began: the time tasks were being started, which rates divide by. */
  readonly activeMs: number;
}

/**
 * Where a run is in its life. `stop` is valid in every phase: before `run` (while created or
 * preparing) it is remembered, and `run` then ends at once with an empty run instead of starting one.
 */
export type EnginePhase = 'created' | 'preparing' | 'running' | 'stopping' | 'done';

const ABANDONED_AT_TIMEOUT = 'still in flight when the drain timeout ended';
const ABANDONED_AT_INTERRUPT = 'abandoned at second interrupt';

/**
 * Runs one fleet: ramps the running devices to a target (at the spawn rate, all at once, or as the
 * stages say), drives them through boot tasks and the task loop, stops at the duration or when every
 * device has done its iterations, and drains in-flight attempts (bounded). It reports through events
 * and `stats`; it never prints.
 */
export class Engine extends EventEmitter<EngineEvents> implements DeviceHost, LinkHost, RampControl, RampHost {
  readonly stats: RunStats;
  readonly plan: RunPlan;
  readonly iterations: number | undefined;
  readonly sharedHttpPool: boolean;
  /** Which devices this process runs: all of them, or one stripe of the global indices. */
  readonly shard: Shard;
  /** Devices this process owns: the fleet's size, or the shard's stripe of it. */
  readonly ownedDevices: number;
  stopping = false;
  /** See EnginePhase. */
  phase: EnginePhase = 'created';
  started = 0;
  finished = 0;
  inFlight = 0;
  /** Attempts still in flight when the drain timeout ended: aborted, and kept out of the stats. */
  abandoned = 0;
  /** Why the drain ended with attempts in flight: its timeout, or a second interrupt cutting it short. */
  abandonCause: AbandonCause = 'drain timeout';
  private abandoning = false;
  /** End-to-end delivery, when some publish carries a delivery header. */
  readonly delivery: DeliveryTracker | undefined;
  /** Started devices that only listen and have not finished: they stay until the run ends. */
  private listening = 0;
  readonly downlink: DownlinkCounts = { received: 0, reactionsQueued: 0, reactionsDropped: 0, reactionsFailed: 0, reactionFailures: new Map() };
  /** Started devices whose MQTT session is not up: they count as not online. */
  private offlineDevices = 0;
  private readonly closingLinks = new Set<Promise<void>>();
  private stopReason: StopReason = 'requested';
  /** By local index (the shard's own numbering); a device keeps its global index as `deviceIndex`. */
  private readonly devices: (VirtualDevice | undefined)[];
  /** What compose built for the run: transport, scheduler, device factory, links, offered load, lifecycle. */
  private readonly parts: EngineParts;
  private startClock = 0;
  private startedAt = new Date();
  private readonly ramp = new Ramp(this);
  /** Devices stopped by the shape that are still finishing an attempt; the drain must reach them too. */
  private readonly retiring = new Set<VirtualDevice>();
  private allOnlineAtMs: number | undefined;
  private durationTimer: NodeJS.Timeout | undefined;
  private snapshotTimer: NodeJS.Timeout | undefined;
  private drained: (() => void) | undefined;
  private finishRun: ((times: RunTimes) => void) | undefined;
  private failRun: ((error: unknown) => void) | undefined;
  private stoppedClock: number | undefined;
  /** Why the run cannot go on as the profile declared it: `run` rejects with it once stopped. */
  private misdeclaration: FleetsimError | undefined;
  /** Settles when `stop` is called, so a preparation under way need not be waited out. */
  private readonly stopRequested: Promise<void>;
  private announceStop: () => void = () => undefined;
  private onlineWhenStopped: number | undefined;
  /** When the interval timer last ran (clock ms): how late the next one runs is lag the loop cannot hide. */
  private lastSnapshotAt = 0;
  /** The load the shape means to offer, booked on the rows at every snapshot. */
  readonly offered: OfferedLoad;
  /** Sleeps, reboots and fleet events, and their counts. */
  readonly lifecycle: FleetLifecycle;

  /** Builds the run (see compose); nothing starts until `prepare` or `run`. */
  constructor(options: EngineOptions) {
    super();
    this.stopRequested = new Promise((resolve) => {
      this.announceStop = resolve;
    });
    this.plan = options.plan;
    this.iterations = options.plan.iterations;
    this.sharedHttpPool = !options.plan.http.connectionPerDevice;
    this.parts = compose(options, {
      elapsedMs: () => this.elapsedMs(),
      httpDeviceOnline: (online) => {
        this.offlineDevices += online ? -1 : 1;
        if (online) this.noteOnline();
      },
    });
    this.shard = this.parts.shard;
    this.ownedDevices = this.parts.ownedDevices;
    this.stats = this.parts.stats;
    this.delivery = this.parts.delivery;
    this.offered = this.parts.offered;
    this.lifecycle = this.parts.lifecycle;
    this.devices = new Array<VirtualDevice | undefined>(this.ownedDevices);
  }

  /** Every Sparkplug edge node's births, deaths and seq, when the fleet has some. */
  get sparkplug(): SparkplugTally | undefined {
    return this.parts.devices.sparkplug;
  }

  /** Who commands reach and the replies that matched no command, when some model sends commands. */
  get commands(): CommandRoutes | undefined {
    return this.parts.devices.commands;
  }

  /** Devices started and not finished, less those whose MQTT session is down. */
  get online(): number {
    return this.started - this.finished - this.offlineDevices;
  }

  /** Where this process's device count is heading: the current ramp's target (the shard's part of it). */
  get targetDevices(): number {
    return this.ramp.goal;
  }

  /** This process's devices in the population now (its part of indices 0..n-1), whatever their sessions are doing. */
  get runningDevices(): number {
    return this.ramp.population;
  }

  /** Ms from the start until the devices online first reached the first target; undefined if never. */
  get timeToAllOnlineMs(): number | undefined {
    return this.allOnlineAtMs;
  }

  /**
   * Moves the running device count linearly from where it is to `devices` over `overMs` (0: at
   * once). Raising it starts the next indices; lowering it stops the highest first: each ends its
   * current task, then closes its connections. The fleet's size (`plan.devices`) is the ceiling.
   * For load models, a capacity search or a UI while the run goes on; stopping ignores it.
   * `devices` counts the whole fleet: a shard runs its own indices below it, over the same time,
   * so the shards together follow the shape and each spawns at its part of the rate.
   */
  rampTo(devices: number, overMs = 0): void {
    if (!Number.isSafeInteger(devices) || devices < 0 || devices > this.plan.devices) {
      throw new RangeError(`rampTo: expected 0 to ${this.plan.devices} devices (the fleet's size), got ${devices}`);
    }
    if (this.finishRun === undefined) throw new Error('rampTo: the run has not started');
    this.ramp.rampTo(ownedBelow(devices, this.shard), overMs);
  }

  /** Elapsed ms since the run started. */
  elapsedMs(): number {
    return this.parts.clock.now() - this.startClock;
  }

  /** Optional, before `run`: warms the HTTP path and opens the pool's first connections (see warmStart). */
  async prepare(): Promise<void> {
    if (this.phase !== 'created' || this.stopping) return;
    this.phase = 'preparing';
    // A stop during the warm-up ends the wait: what is left of it only warms a run that will not start.
    await Promise.race([warmStart(this.plan, this.parts.transport, this.ownedDevices), this.stopRequested]);
  }

  async run(): Promise<RunTimes> {
    if (this.phase !== 'created' && this.phase !== 'preparing') throw new Error(`run: the engine is already ${this.phase}`);
    const done = new Promise<RunTimes>((resolve, reject) => {
      this.finishRun = resolve;
      this.failRun = reject;
    });
    this.startClock = this.parts.clock.now();
    this.parts.links.startClock = this.startClock;
    this.startedAt = new Date();
    if (this.stopping) {
      // Stopped before the clock started: an empty run, ended at once, whose reports say so.
      this.stoppedClock = this.startClock;
      this.finishEmpty().catch((error: unknown) => this.failRun?.(error));
      return done;
    }
    this.phase = 'running';
    this.parts.transport.runStarted();
    if (this.plan.durationMs !== undefined) {
      this.durationTimer = setTimeout(() => this.stop('duration'), this.plan.durationMs);
    }
    this.parts.ownMonitor?.start();
    this.lastSnapshotAt = this.startClock;
    this.snapshotTimer = setInterval(() => this.snapshot(true), this.parts.snapshotIntervalMs);
    const plan = this.plan;
    if (this.parts.steered) return done;
    if (plan.stages) new StageDriver(this, plan.stages).start();
    else this.rampTo(plan.devices, plan.spawnMode === 'all-at-once' ? 0 : (plan.devices * 1000) / plan.spawnRate);
    // A shard with no devices (more shards than devices) has nothing to wait for.
    if (this.ownedDevices === 0 && this.iterations !== undefined) this.stop('iterations');
    return done;
  }

  /** Stops starting tasks, waits for in-flight attempts up to the drain timeout, then ends the run. */
  stop(reason: StopReason): void {
    if (this.stopping) return;
    this.stopping = true;
    this.stopReason = reason;
    this.announceStop();
    if (this.phase !== 'running') {
      // Nothing started yet: `run` sees the stop and ends the run empty.
      this.emit('stopping', reason);
      return;
    }
    this.phase = 'stopping';
    this.stoppedClock = this.parts.clock.now();
    this.onlineWhenStopped = this.online;
    clearTimeout(this.durationTimer);
    this.parts.scheduler.clear();
    this.emit('stopping', reason);
    // Devices that only listen stay subscribed through the drain, to receive what is still on its way.
    for (const device of this.devices) if (device && !device.inFlight && !device.listening) device.finish();
    this.drainAndFinish().catch((error: unknown) => this.failRun?.(error));
  }

  /** The profile declared what the run contradicts: stop (drain, close) and end `run` with this error (exit 2). */
  misdeclared(message: string): void {
    if (this.misdeclaration) return;
    this.misdeclaration = new FleetsimError('FLEETSIM_MISDECLARED', message);
    this.stop('requested');
  }

  /** How the request log labels an attempt the drain abandoned. */
  private get abandonLabel(): string {
    return this.abandonCause === 'second interrupt' ? ABANDONED_AT_INTERRUPT : ABANDONED_AT_TIMEOUT;
  }

  /** Ends the drain now: what is still in flight is abandoned (a second Ctrl-C). */
  abandonDrain(): void {
    if (!this.stopping) return;
    this.abandonCause = 'second interrupt';
    this.drained?.();
  }

  /** Resolves when nothing is in flight, or after `ms`. */
  private async waitForDrain(ms: number): Promise<void> {
    if (this.inFlight === 0) return;
    let timer: NodeJS.Timeout | undefined;
    await Promise.race([
      new Promise<void>((resolve) => {
        this.drained = resolve;
      }),
      new Promise<void>((resolve) => {
        timer = setTimeout(resolve, ms);
      }),
    ]);
    clearTimeout(timer);
  }

  private async drainAndFinish(): Promise<void> {
    await this.waitForDrain(this.plan.drainTimeoutMs);
    await this.delivery?.settle(this.plan.drainTimeoutMs);
    for (const device of this.devices) if (device?.listening) device.finish();
    // What is still in flight now is abandoned: destroying the connections settles those attempts
    // at once, and onAttempt counts them apart instead of as failures of the target.
    this.abandoning = this.inFlight > 0;
    for (const device of [...this.devices, ...this.retiring]) {
      if (!device?.link) continue;
      if (this.abandoning) device.sessionDown(this.abandonLabel, false);
      this.closingLinks.add(device.link.close(!this.abandoning));
    }
    // The run is over either way; a connection that fails to close cleanly changes no result.
    await this.parts.transport.destroy().catch(() => undefined);
    await Promise.all(this.closingLinks);
    await this.waitForDrain(1000);
    this.finishUp();
  }

  private async finishEmpty(): Promise<void> {
    this.phase = 'stopping';
    // Connections the preparation opened (or is still opening) are closed; the run changes nothing.
    await this.parts.transport.destroy().catch(() => undefined);
    this.finishUp();
  }

  private finishUp(): void {
    this.phase = 'done';
    clearInterval(this.snapshotTimer);
    this.snapshot();
    this.parts.ownMonitor?.stop();
    const endedAt = new Date();
    this.emit('done', this.stopReason);
    if (this.misdeclaration) return void this.failRun?.(this.misdeclaration);
    this.finishRun?.({
      startedAt: this.startedAt,
      endedAt,
      durationMs: endedAt.getTime() - this.startedAt.getTime(),
      activeMs: (this.stoppedClock ?? this.parts.clock.now()) - this.startClock,
    });
  }

  /** Closes an interval; `onTimer` when the interval timer called it, so how late it ran is lag. */
  private snapshot(onTimer = false): void {
    const now = this.parts.clock.now();
    const timerLateMs = onTimer ? Math.max(0, now - this.lastSnapshotAt - this.parts.snapshotIntervalMs) : 0;
    this.lastSnapshotAt = now;
    this.offered.bookUntil(Math.min(now, this.stoppedClock ?? now) - this.startClock);
    const planned = this.lifecycle.any ? Math.max(0, this.runningDevices - this.lifecycle.plannedDown) : undefined;
    // The drain closes every session: the intervals after the stop show who was online when it came.
    const online = this.onlineWhenStopped ?? this.online;
    this.emit('interval', this.stats.snapshot(now - this.startClock, online, this.runningDevices, this.parts.generator.sampleInterval(timerLateMs), planned));
  }

  rampStarted(from: number, goal: number, overMs: number): void {
    this.offered.rampTo(this.elapsedMs(), from, goal, overMs);
  }

  stopDevice(local: number, running: number): void {
    this.emit('retire', globalIndex(local, this.shard), running);
    const device = this.devices[local];
    if (!device || device.finished) return;
    this.retiring.add(device);
    device.retire();
  }

  startDevice(local: number): void {
    const device = this.parts.devices.make(globalIndex(local, this.shard), this);
    this.devices[local] = device;
    if (device.link) this.offlineDevices++;
    device.lifecycle = this.lifecycle.attach(device, this.startClock);
    // Before the device first wakes: one that joins its duty cycle asleep starts off the network.
    device.lifecycle?.start(this.parts.clock.now());
    device.wake();
    device.link?.wake();
  }

  queuedWhileOffline(): void {
    this.lifecycle.counts.queuedWhileOffline++;
  }

  now(): number {
    return this.parts.clock.now();
  }

  sinceStart(clockMs: number): number {
    return clockMs - this.startClock;
  }

  schedule(item: Schedulable, dueAt: number): void {
    this.parts.scheduler.schedule(item, dueAt);
  }

  unschedule(item: Schedulable): void {
    this.parts.scheduler.unschedule(item);
  }

  attemptStarted(): void {
    this.inFlight++;
  }

  connectEnded(link: MqttLink, outcome: Outcome, error: string | undefined, latencyMicros: number, answered: boolean): void {
    this.onAttempt(link.device as VirtualDevice, link.stats, link.sent, { outcome, error, bytesIn: 0, answered }, latencyMicros, -1, false);
  }

  sessionOnline(link: MqttLink): void {
    if ((link.device as VirtualDevice).finished) return;
    this.offlineDevices--;
    this.noteOnline();
  }

  private noteOnline(): void {
    if (this.allOnlineAtMs === undefined && this.online >= this.parts.onlineGoal) this.allOnlineAtMs = this.elapsedMs();
  }

  sessionOffline(link: MqttLink): void {
    if (!(link.device as VirtualDevice).finished) this.offlineDevices++;
  }

  sendHttp(exchange: HttpExchange): void {
    this.inFlight++;
    if (this.parts.basePath) exchange.request.path = this.parts.basePath + exchange.request.path;
    this.parts.transport.dispatch(exchange);
  }

  onAttempt(device: VirtualDevice, stats: StatsEntry, sent: SentAttempt, result: AttemptResult, latencyMicros: number, intendedMicros: number, late: boolean, queuedMicros = -1): void {
    this.inFlight--;
    if (this.abandoning) {
      this.abandoned++;
      this.emitAttempt(device, stats, sent, 'abandoned', this.abandonLabel, latencyMicros);
    } else {
      stats.record(result.outcome, result.error, latencyMicros, intendedMicros, result.bytesIn, late, result.answered);
      if (queuedMicros >= 0) stats.recordQueued(queuedMicros);
      if (this.parts.links.any && result.answered) this.recordLink(device.deviceIndex, stats, latencyMicros);
      this.emitAttempt(device, stats, sent, result.outcome, result.error, latencyMicros);
    }
    if (this.stopping && this.inFlight === 0) this.drained?.();
  }

  /** What the device's link added to this answer, never more than the answer took. */
  private recordLink(deviceIndex: number, stats: StatsEntry, latencyMicros: number): void {
    const added = this.parts.links.addedMicros(deviceIndex);
    if (added >= 0) stats.recordLink(Math.min(added, latencyMicros));
  }

  private emitAttempt(device: VirtualDevice, stats: StatsEntry, sent: SentAttempt, outcome: AttemptRecord['outcome'], error: string | undefined, latencyMicros: number): void {
    if (this.listenerCount('attempt') === 0) return;
    this.emit('attempt', {
      device: device.deviceId,
      deviceIndex: device.deviceIndex,
      seq: sent.seq,
      type: stats.type,
      name: stats.name,
      target: this.parts.redactor.redact(sent.target, device, sent.timeMs),
      body: sent.body === undefined ? null : this.parts.redactor.redact(loggedBody(sent) as string, device, sent.timeMs),
      outcome,
      error,
      latencyMs: Math.round(latencyMicros) / 1000,
      intendedAtMs: Math.round(this.sinceStart(sent.intendedAt) * 1000) / 1000,
      doneAtMs: Math.round(this.elapsedMs() * 1000) / 1000,
      anomalies: takeAnomalies(device, sent.seq),
    });
  }

  onStarted(device: VirtualDevice): void {
    this.started++;
    if (device.listening) this.listening++;
    this.emit('spawn', device.deviceIndex, this.started);
    if (!device.link) this.noteOnline();
  }

  reactionStream(deviceIndex: number): Random {
    return reactionRandom(this.plan.seed, deviceIndex);
  }

  onFinished(device: VirtualDevice): void {
    this.finished++;
    this.lifecycle.finished(device);
    if (device.listening) this.listening--;
    if (this.retiring.delete(device) && this.devices[localIndex(device.deviceIndex, this.shard)] === device) this.parts.transport.release(device.deviceIndex);
    const link = device.link;
    if (link) {
      if (!link.connected) this.offlineDevices--;
      // Subscriptions still waiting for their SUBACK are in flight like any attempt: they get their
      // answer (or their timeout) before the session ends.
      const closing = device.subscriptionsSettled().then(() => link.finish());
      this.closingLinks.add(closing);
      void closing.then(() => this.closingLinks.delete(closing));
    }
    // Only devices that ran out of iterations end the run: never ones the shape stopped.
    if (!this.stopping && this.iterations !== undefined && this.ramp.settled && this.retiring.size === 0 && this.finished + this.listening === this.started) this.stop('iterations');
  }
}
