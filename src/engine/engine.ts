import { EventEmitter } from 'node:events';
import { FleetsimError } from '../errors.ts';
import { deviceRandom, reactionRandom } from '../identity/rng.ts';
import type { Random } from '../identity/rng.ts';
import { GeneratorMonitor } from '../metrics/generator-monitor.ts';
import type { IntervalHealth } from '../metrics/history.ts';
import { DEFAULT_WINDOW_S, RunStats } from '../metrics/stats.ts';
import type { StatsEntry } from '../metrics/stats.ts';
import type { FleetEntry, RunPlan } from '../profile/types.ts';
import { HttpTransport } from '../transport/http/http.ts';
import type { HttpExchange } from '../transport/http/http-exchange.ts';
import type { AttemptResult, Outcome } from '../transport/types.ts';
import { httpTransportOptions } from './device/http-options.ts';
import { DeviceTlsResolver } from './mqtt/tls-files.ts';
import { sessionOptionsFor } from './mqtt/session-options.ts';
import { loggedBody } from './mqtt/mqtt-attempt.ts';
import type { SentAttempt } from './mqtt/mqtt-attempt.ts';
import { MqttLink } from './mqtt/mqtt-link.ts';
import type { LinkHost } from './mqtt/mqtt-link.ts';
import { systemClock } from '../util/clock.ts';
import type { Clock } from '../util/clock.ts';
import { bindModel } from './device/bound-model.ts';
import { SparkplugTally } from '../metrics/sparkplug.ts';
import { SparkplugNode } from './mqtt/sparkplug/node.ts';
import { warmStart } from './device/http-warm-start.ts';
import type { BoundModel } from './device/bound-model.ts';
import { DeliveryTracker, measuresDelivery } from './mqtt/delivery.ts';
import { VirtualDevice } from './device/device.ts';
import type { DeviceHost, DownlinkCounts } from './device/device-host.ts';
import { CommandRoutes, CommandSender } from './mqtt/commands.ts';
import type { AbandonCause, AttemptRecord, EngineEvents, StopReason } from './events.ts';
import { dataRow, entryOrdinals, fleetIdFunctions, layoutFleet } from './fleet/fleet-layout.ts';
import { RequestLogRedactor } from './device/redaction.ts';
import { Scheduler } from './schedule/scheduler.ts';
import { DeviceLinks } from './fleet/device-links.ts';
import { FleetLifecycle } from './fleet/fleet-lifecycle.ts';
import { globalIndex, localIndex, ownedBelow, WHOLE_RUN } from './fleet/shard.ts';
import type { Shard } from './fleet/shard.ts';
import { Ramp } from './schedule/ramp.ts';
import { OfferedLoad } from './schedule/offered-load.ts';
import type { RampHost } from './schedule/ramp.ts';
import { StageDriver } from './schedule/stages.ts';
import type { RampControl } from './schedule/stages.ts';
import type { Schedulable, TimerApi } from './schedule/scheduler.ts';
import { takeAnomalies } from '../template/generators/anomaly-labels.ts';

export interface EngineOptions {
  readonly plan: RunPlan;
  /** HTTP base URL (origin), resolved by the caller from flags, profile or the embedded fixture. */
  readonly target: string;
  /** mqtt:// or mqtts:// URL, resolved by the caller; needed when a device model keeps a session. */
  readonly broker?: string | undefined;
  readonly clock?: Clock;
  readonly timers?: TimerApi;
  readonly snapshotIntervalMs?: number;
  /** The caller drives the device count through `rampTo` (a capacity search, a UI): the run starts with none. */
  readonly steered?: boolean;
  /** Reads the generator's health per interval for the history; the engine watches itself when not given. */
  readonly generator?: IntervalSampler;
}

export interface IntervalSampler {
  /** `timerLateMs`: how late the engine's own interval timer ran, which a starved lag sampler may not see. */
  sampleInterval(timerLateMs?: number): IntervalHealth;
}

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
  readonly stats = new RunStats();
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
  /** Every Sparkplug edge node's births, deaths and seq, when the fleet has some. */
  sparkplug: SparkplugTally | undefined;
  /** Who commands reach and the replies that matched no command, when some model sends commands. */
  commands: CommandRoutes | undefined;
  /** End-to-end delivery, when some publish carries a delivery header. */
  readonly delivery: DeliveryTracker | undefined;
  /** Started devices that only listen and have not finished: they stay until the run ends. */
  private listening = 0;
  readonly downlink: DownlinkCounts = { received: 0, reactionsQueued: 0, reactionsDropped: 0, reactionsFailed: 0, reactionFailures: new Map() };
  /** Started devices whose MQTT session is not up: they count as not online. */
  private offlineDevices = 0;
  private readonly broker: URL | undefined;
  private readonly mqttTls: DeviceTlsResolver | undefined;
  private readonly connectStats: (StatsEntry | undefined)[];
  private readonly closingLinks = new Set<Promise<void>>();
  private stopReason: StopReason = 'requested';
  private readonly clock: Clock;
  private readonly scheduler: Scheduler;
  private readonly transport: HttpTransport;
  /** By local index (the shard's own numbering); a device keeps its global index as `deviceIndex`. */
  private readonly devices: (VirtualDevice | undefined)[];
  private readonly layout: Uint16Array;
  private readonly bound: BoundModel[];
  private readonly idOf: ((index: number) => string)[];
  /** Each device's place in its fleet entry: its row of the entry's data file. */
  private readonly ordinals: Uint32Array;
  private startClock = 0;
  private startedAt = new Date();
  private readonly ramp = new Ramp(this);
  /** Devices stopped by the shape that are still finishing an attempt; the drain must reach them too. */
  private readonly retiring = new Set<VirtualDevice>();
  /** The count at which every device is online: the first stage's target that starts any, or the fleet. */
  private readonly onlineGoal: number;
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
  private readonly snapshotIntervalMs: number;
  private onlineWhenStopped: number | undefined;
  /** When the interval timer last ran (clock ms): how late the next one runs is lag the loop cannot hide. */
  private lastSnapshotAt = 0;
  /** The load the shape means to offer; offered up to `offeredUntilMs` (ms since the start) so far. */
  readonly offered: OfferedLoad;
  private offeredUntilMs = 0;
  private readonly offeredNow = new Map<StatsEntry, number>();
  private readonly generator: IntervalSampler;
  private readonly steered: boolean;
  private readonly ownMonitor: GeneratorMonitor | undefined;
  private readonly redactor: RequestLogRedactor;
  /** Each device's simulated network link, when the profile declares any. */
  private readonly links: DeviceLinks;
  /** Sleeps, reboots and fleet events, and their counts. */
  readonly lifecycle: FleetLifecycle;
  /** A target like http://host/api puts every request path under /api. */
  private readonly basePath: string;

  constructor(options: EngineOptions) {
    super();
    this.stopRequested = new Promise((resolve) => {
      this.announceStop = resolve;
    });
    this.plan = options.plan;
    this.iterations = options.plan.iterations;
    this.sharedHttpPool = !options.plan.http.connectionPerDevice;
    this.shard = options.plan.shard ?? WHOLE_RUN;
    this.ownedDevices = ownedBelow(options.plan.devices, this.shard);
    // A shard's intervals are merged with the others': they carry their histograms for that.
    this.stats.intervalHistograms = this.shard.count > 1;
    this.clock = options.clock ?? systemClock;
    this.scheduler = new Scheduler(this.clock, options.timers);
    this.snapshotIntervalMs = options.snapshotIntervalMs ?? 1000;
    this.steered = options.steered === true;
    this.ownMonitor = options.generator ? undefined : new GeneratorMonitor();
    this.generator = options.generator ?? (this.ownMonitor as GeneratorMonitor);
    const target = new URL(options.target);
    this.basePath = target.pathname.replace(/\/+$/, '');
    this.devices = new Array<VirtualDevice | undefined>(this.ownedDevices);
    this.layout = layoutFleet(options.plan.fleet);
    const entryFor = this.stats.entryFor.bind(this.stats);
    this.bound = options.plan.fleet.map((entry) => bindModel(entry.model, entryFor));
    this.ordinals = entryOrdinals(this.layout, options.plan.fleet.length);
    this.idOf = fleetIdFunctions(options.plan.fleet, this.ordinals, options.plan.seed);
    const tlsSource = { fleet: options.plan.fleet, layout: this.layout, ordinals: this.ordinals, idOf: this.idOf };
    this.links = new DeviceLinks(options.plan.fleet, this.layout, this.ordinals, options.plan.seed);
    const links = this.links;
    const httpOptions = httpTransportOptions(options.plan.http, target, tlsSource);
    this.transport = new HttpTransport(target.origin, links.any ? { ...httpOptions, linkFor: (index) => links.conditionsFor(index) } : httpOptions, options.plan.localAddresses);
    this.delivery = measuresDelivery(options.plan) ? new DeliveryTracker(options.plan.devices, entryFor, (index) => (this.idOf[this.layout[index] ?? 0] as (index: number) => string)(index)) : undefined;
    this.connectStats = options.plan.fleet.map((entry) => (entry.model.mqtt ? this.stats.entryFor('CONNECT', entry.model.name) : undefined));
    const needsBroker = options.plan.fleet.some((entry) => entry.model.mqtt !== undefined && entry.count > 0);
    if (needsBroker && options.broker === undefined) throw new Error('a device model keeps an MQTT session but no broker was given');
    this.broker = options.broker === undefined ? undefined : new URL(options.broker);
    this.mqttTls = this.broker?.protocol === 'mqtts:' || this.broker?.protocol === 'wss:' ? new DeviceTlsResolver(options.plan.mqtt.tls, tlsSource) : undefined;
    this.onlineGoal = ownedBelow(options.plan.stages?.find((stage) => stage.devices > 0)?.devices ?? options.plan.devices, this.shard);
    this.redactor = new RequestLogRedactor(options.plan, this.layout);
    this.offered = new OfferedLoad(options.plan.fleet, options.plan.iterations, entryFor, { count: this.ownedDevices, entryOf: (local) => this.layout[globalIndex(local, this.shard)] ?? 0 });
    this.lifecycle = new FleetLifecycle(options.plan.fleet, this.layout, options.plan.fleetEvents ?? [], options.plan.seed, options.plan.devices, (index) => index % this.shard.count === this.shard.index, this.offered, {
      now: () => this.clock.now(),
      elapsedMs: () => this.elapsedMs(),
      schedule: (item, dueAt) => this.scheduler.schedule(item, dueAt),
      unschedule: (item) => this.scheduler.unschedule(item),
      httpDeviceOnline: (online) => {
        this.offlineDevices += online ? -1 : 1;
        if (online) this.noteOnline();
      },
    });
    // A share judged over less than two task periods would see a paced fleet's lumps, not its rate.
    this.stats.judgeLoad(Math.min(60, Math.max(DEFAULT_WINDOW_S, (2 * this.offered.longestCycleMs) / 1000)), options.plan.minDelivered ?? null, this.offered.noise, this.offered.closedModels);
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
    return this.clock.now() - this.startClock;
  }

  /** Optional, before `run`: warms the HTTP path and opens the pool's first connections (see warmStart). */
  async prepare(): Promise<void> {
    if (this.phase !== 'created' || this.stopping) return;
    this.phase = 'preparing';
    // A stop during the warm-up ends the wait: what is left of it only warms a run that will not start.
    await Promise.race([warmStart(this.plan, this.transport, this.ownedDevices), this.stopRequested]);
  }

  async run(): Promise<RunTimes> {
    if (this.phase !== 'created' && this.phase !== 'preparing') throw new Error(`run: the engine is already ${this.phase}`);
    const done = new Promise<RunTimes>((resolve, reject) => {
      this.finishRun = resolve;
      this.failRun = reject;
    });
    this.startClock = this.clock.now();
    this.links.startClock = this.startClock;
    this.startedAt = new Date();
    if (this.stopping) {
      // Stopped before the clock started: an empty run, ended at once, whose reports say so.
      this.stoppedClock = this.startClock;
      this.finishEmpty().catch((error: unknown) => this.failRun?.(error));
      return done;
    }
    this.phase = 'running';
    this.transport.runStarted();
    if (this.plan.durationMs !== undefined) {
      this.durationTimer = setTimeout(() => this.stop('duration'), this.plan.durationMs);
    }
    this.ownMonitor?.start();
    this.lastSnapshotAt = this.startClock;
    this.snapshotTimer = setInterval(() => this.snapshot(true), this.snapshotIntervalMs);
    const plan = this.plan;
    if (this.steered) return done;
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
    this.stoppedClock = this.clock.now();
    this.onlineWhenStopped = this.online;
    clearTimeout(this.durationTimer);
    this.scheduler.clear();
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
    await this.transport.destroy().catch(() => undefined);
    await Promise.all(this.closingLinks);
    await this.waitForDrain(1000);
    this.finishUp();
  }

  private async finishEmpty(): Promise<void> {
    this.phase = 'stopping';
    // Connections the preparation opened (or is still opening) are closed; the run changes nothing.
    await this.transport.destroy().catch(() => undefined);
    this.finishUp();
  }

  private finishUp(): void {
    this.phase = 'done';
    clearInterval(this.snapshotTimer);
    this.snapshot();
    this.ownMonitor?.stop();
    const endedAt = new Date();
    this.emit('done', this.stopReason);
    if (this.misdeclaration) return void this.failRun?.(this.misdeclaration);
    this.finishRun?.({
      startedAt: this.startedAt,
      endedAt,
      durationMs: endedAt.getTime() - this.startedAt.getTime(),
      activeMs: (this.stoppedClock ?? this.clock.now()) - this.startClock,
    });
  }

  /** Closes an interval; `onTimer` when the interval timer called it, so how late it ran is lag. */
  private snapshot(onTimer = false): void {
    const now = this.clock.now();
    const timerLateMs = onTimer ? Math.max(0, now - this.lastSnapshotAt - this.snapshotIntervalMs) : 0;
    this.lastSnapshotAt = now;
    this.offerUntil(Math.min(now, this.stoppedClock ?? now) - this.startClock);
    const planned = this.lifecycle.any ? Math.max(0, this.runningDevices - this.lifecycle.plannedDown) : undefined;
    // The drain closes every session: the intervals after the stop show who was online when it came.
    const online = this.onlineWhenStopped ?? this.online;
    this.emit('interval', this.stats.snapshot(now - this.startClock, online, this.runningDevices, this.generator.sampleInterval(timerLateMs), planned));
  }

  /** Books what the shape meant to start up to `untilMs` on the rows: the load offered, however much of it was sent. */
  private offerUntil(untilMs: number): void {
    if (untilMs <= this.offeredUntilMs) return;
    this.offered.offeredBetween(this.offeredUntilMs, untilMs, this.offeredNow);
    for (const [entry, count] of this.offeredNow) entry.offer(count);
    this.offeredNow.clear();
    this.offeredUntilMs = untilMs;
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
    const index = globalIndex(local, this.shard);
    const entry = this.layout[index] ?? 0;
    const bound = this.bound[entry] as BoundModel;
    const idOf = this.idOf[entry] as (index: number) => string;
    // A device started again after the shape stopped it is a new one with the same identity and stream.
    const device = new VirtualDevice(index, idOf(index), bound, deviceRandom(this.plan.seed, index), this);
    device.data = dataRow(this.plan.fleet[entry] as FleetEntry, this.ordinals[index] ?? 0);
    // After its data row: the node and device ids may read it.
    if (bound.sparkplug) device.sparkplug = new SparkplugNode(bound.sparkplug, device, (this.sparkplug ??= new SparkplugTally()));
    if (bound.commands) {
      this.commands ??= new CommandRoutes(this.plan.fleet, this.layout, this.idOf);
      device.commands = new CommandSender(device, this.commands, this.ordinals[index] ?? 0, this.plan.fleet[entry]?.count ?? 1, bound.model.mqtt?.protocolVersion === 5);
    }
    this.devices[local] = device;
    const mqtt = bound.model.mqtt;
    if (mqtt) {
      // Reconnect jitter has its own stream, so a lost connection never shifts what the device sends.
      const session = sessionOptionsFor(this.broker as URL, this.mqttTls, this.plan.localAddresses ?? [], device, mqtt);
      const link = this.links.conditionsFor(index);
      device.link = new MqttLink(device, this.connectStats[entry] as StatsEntry, link ? { ...session, link } : session, mqtt.reconnect, this.plan.seed, this);
      this.offlineDevices++;
    }
    if (this.links.any) device.ownHttpConnection = this.links.conditionsFor(index) !== undefined;
    device.lifecycle = this.lifecycle.attach(device, this.startClock);
    // Before the device first wakes: one that joins its duty cycle asleep starts off the network.
    device.lifecycle?.start(this.clock.now());
    device.wake();
    device.link?.wake();
  }

  queuedWhileOffline(): void {
    this.lifecycle.counts.queuedWhileOffline++;
  }

  now(): number {
    return this.clock.now();
  }

  sinceStart(clockMs: number): number {
    return clockMs - this.startClock;
  }

  schedule(item: Schedulable, dueAt: number): void {
    this.scheduler.schedule(item, dueAt);
  }

  unschedule(item: Schedulable): void {
    this.scheduler.unschedule(item);
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
    if (this.allOnlineAtMs === undefined && this.online >= this.onlineGoal) this.allOnlineAtMs = this.elapsedMs();
  }

  sessionOffline(link: MqttLink): void {
    if (!(link.device as VirtualDevice).finished) this.offlineDevices++;
  }

  sendHttp(exchange: HttpExchange): void {
    this.inFlight++;
    if (this.basePath) exchange.request.path = this.basePath + exchange.request.path;
    this.transport.dispatch(exchange);
  }

  onAttempt(device: VirtualDevice, stats: StatsEntry, sent: SentAttempt, result: AttemptResult, latencyMicros: number, intendedMicros: number, late: boolean, queuedMicros = -1): void {
    this.inFlight--;
    if (this.abandoning) {
      this.abandoned++;
      this.emitAttempt(device, stats, sent, 'abandoned', this.abandonLabel, latencyMicros);
    } else {
      stats.record(result.outcome, result.error, latencyMicros, intendedMicros, result.bytesIn, late, result.answered);
      if (queuedMicros >= 0) stats.recordQueued(queuedMicros);
      if (this.links.any && result.answered) this.recordLink(device.deviceIndex, stats, latencyMicros);
      this.emitAttempt(device, stats, sent, result.outcome, result.error, latencyMicros);
    }
    if (this.stopping && this.inFlight === 0) this.drained?.();
  }

  /** What the device's link added to this answer, never more than the answer took. */
  private recordLink(deviceIndex: number, stats: StatsEntry, latencyMicros: number): void {
    const added = this.links.addedMicros(deviceIndex);
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
      target: this.redactor.redact(sent.target, device, sent.timeMs),
      body: sent.body === undefined ? null : this.redactor.redact(loggedBody(sent) as string, device, sent.timeMs),
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
    if (this.retiring.delete(device) && this.devices[localIndex(device.deviceIndex, this.shard)] === device) this.transport.release(device.deviceIndex);
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
