import { EventEmitter } from 'node:events';
import { FleetsimError } from '../errors.ts';
import type { CommandRoutes } from './mqtt/commands.ts';
import type { SparkplugTally } from '../metrics/sparkplug.ts';
import type { RunStats } from '../metrics/stats.ts';
import type { RunPlan } from '../profile/types.ts';
import { compose } from './compose.ts';
import type { EngineOptions, EngineParts } from './compose.ts';
import { warmStart } from './device/http-warm-start.ts';
import type { DownlinkCounts } from './device/device-host.ts';
import type { AbandonCause, EngineEvents, StopReason } from './events.ts';
import { FleetHost } from './fleet-host.ts';
import type { FleetLifecycle } from './fleet/fleet-lifecycle.ts';
import { ownedBelow } from './fleet/shard.ts';
import type { Shard } from './fleet/shard.ts';
import type { DeliveryTracker } from './mqtt/delivery.ts';
import type { OfferedLoad } from './schedule/offered-load.ts';
import type { Schedulable } from './schedule/scheduler.ts';
import { StageDriver } from './schedule/stages.ts';
import type { RampControl } from './schedule/stages.ts';

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

/**
 * Runs one fleet: ramps the running devices to a target (at the spawn rate, all at once, or as the
 * stages say), drives them through boot tasks and the task loop, stops at the duration or when every
 * device has done its iterations, and drains in-flight attempts (bounded). It reports through events
 * and `stats`; it never prints. Its devices call back into its FleetHost, which counts them.
 */
export class Engine extends EventEmitter<EngineEvents> implements RampControl {
  readonly stats: RunStats;
  readonly plan: RunPlan;
  readonly iterations: number | undefined;
  /** Which devices this process runs: all of them, or one stripe of the global indices. */
  readonly shard: Shard;
  /** Devices this process owns: the fleet's size, or the shard's stripe of it. */
  readonly ownedDevices: number;
  /** See EnginePhase. */
  phase: EnginePhase = 'created';
  /** End-to-end delivery, when some publish carries a delivery header. */
  readonly delivery: DeliveryTracker | undefined;
  /** Counts of messages the devices received from their sessions. */
  readonly downlink: DownlinkCounts = { received: 0, reactionsQueued: 0, reactionsDropped: 0, reactionsFailed: 0, reactionFailures: new Map() };
  /** Why the drain ended with attempts in flight: its timeout, or a second interrupt cutting it short. */
  abandonCause: AbandonCause = 'drain timeout';
  private stopReason: StopReason = 'requested';
  /** What compose built for the run: transport, scheduler, device factory, links, offered load, lifecycle. */
  private readonly parts: EngineParts;
  /** What the devices, their links and the ramp call back into. */
  private readonly fleet: FleetHost;
  private startedAt = new Date();
  private durationTimer: NodeJS.Timeout | undefined;
  private snapshotTimer: NodeJS.Timeout | undefined;
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
    this.parts = compose(options, {
      elapsedMs: () => this.elapsedMs(),
      httpDeviceOnline: (online) => this.fleet.httpDeviceOnline(online),
    });
    this.fleet = new FleetHost(options.plan, this.parts, this);
    this.shard = this.parts.shard;
    this.ownedDevices = this.parts.ownedDevices;
    this.stats = this.parts.stats;
    this.delivery = this.parts.delivery;
    this.offered = this.parts.offered;
    this.lifecycle = this.parts.lifecycle;
  }

  /** Stop has begun: no new tasks start. */
  get stopping(): boolean {
    return this.fleet.stopping;
  }

  get started(): number {
    return this.fleet.started;
  }

  get finished(): number {
    return this.fleet.finished;
  }

  get inFlight(): number {
    return this.fleet.inFlight;
  }

  /** Attempts still in flight when the drain timeout ended: aborted, and kept out of the stats. */
  get abandoned(): number {
    return this.fleet.abandoned;
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
    return this.fleet.online;
  }

  /** Where this process's device count is heading: the current ramp's target (the shard's part of it). */
  get targetDevices(): number {
    return this.fleet.ramp.goal;
  }

  /** This process's devices in the population now (its part of indices 0..n-1), whatever their sessions are doing. */
  get runningDevices(): number {
    return this.fleet.ramp.population;
  }

  /** Ms from the start until the devices online first reached the first target; undefined if never. */
  get timeToAllOnlineMs(): number | undefined {
    return this.fleet.timeToAllOnlineMs;
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
    this.fleet.ramp.rampTo(ownedBelow(devices, this.shard), overMs);
  }

  /** Elapsed ms since the run started. */
  elapsedMs(): number {
    return this.fleet.elapsedMs();
  }

  now(): number {
    return this.parts.clock.now();
  }

  schedule(item: Schedulable, dueAt: number): void {
    this.parts.scheduler.schedule(item, dueAt);
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
    const startClock = this.parts.clock.now();
    this.fleet.startClock = startClock;
    this.parts.links.startClock = startClock;
    this.startedAt = new Date();
    if (this.stopping) {
      // Stopped before the clock started: an empty run, ended at once, whose reports say so.
      this.stoppedClock = startClock;
      this.finishEmpty().catch((error: unknown) => this.failRun?.(error));
      return done;
    }
    this.phase = 'running';
    this.parts.transport.runStarted();
    if (this.plan.durationMs !== undefined) {
      this.durationTimer = setTimeout(() => this.stop('duration'), this.plan.durationMs);
    }
    this.parts.ownMonitor?.start();
    this.lastSnapshotAt = startClock;
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
    this.fleet.stopping = true;
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
    this.fleet.finishIdle();
    this.drainAndFinish().catch((error: unknown) => this.failRun?.(error));
  }

  /** The profile declared what the run contradicts: stop (drain, close) and end `run` with this error (exit 2). */
  misdeclared(message: string): void {
    if (this.misdeclaration) return;
    this.misdeclaration = new FleetsimError('FLEETSIM_MISDECLARED', message);
    this.stop('requested');
  }

  /** Ends the drain now: what is still in flight is abandoned (a second Ctrl-C). */
  abandonDrain(): void {
    if (!this.stopping) return;
    this.abandonCause = 'second interrupt';
    this.fleet.endDrain();
  }

  private async drainAndFinish(): Promise<void> {
    const fleet = this.fleet;
    await fleet.waitForDrain(this.plan.drainTimeoutMs);
    await this.delivery?.settle(this.plan.drainTimeoutMs);
    fleet.closeSessions();
    // The run is over either way; a connection that fails to close cleanly changes no result.
    await this.parts.transport.destroy().catch(() => undefined);
    await fleet.sessionsClosed();
    await fleet.waitForDrain(1000);
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
      activeMs: (this.stoppedClock ?? this.parts.clock.now()) - this.fleet.startClock,
    });
  }

  /** Closes an interval; `onTimer` when the interval timer called it, so how late it ran is lag. */
  private snapshot(onTimer = false): void {
    const now = this.parts.clock.now();
    const timerLateMs = onTimer ? Math.max(0, now - this.lastSnapshotAt - this.parts.snapshotIntervalMs) : 0;
    this.lastSnapshotAt = now;
    this.offered.bookUntil(Math.min(now, this.stoppedClock ?? now) - this.fleet.startClock);
    const planned = this.lifecycle.any ? Math.max(0, this.runningDevices - this.lifecycle.plannedDown) : undefined;
    // The drain closes every session: the intervals after the stop show who was online when it came.
    const online = this.onlineWhenStopped ?? this.online;
    this.emit('interval', this.stats.snapshot(now - this.fleet.startClock, online, this.runningDevices, this.parts.generator.sampleInterval(timerLateMs), planned));
  }
}
