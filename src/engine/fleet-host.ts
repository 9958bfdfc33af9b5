import { reactionRandom } from '../identity/rng.ts';
import type { Random } from '../identity/rng.ts';
import type { StatsEntry } from '../metrics/stats.ts';
import type { RunPlan } from '../profile/types.ts';
import type { HttpExchange } from '../transport/http/http-exchange.ts';
import { HttpExchangePool } from '../transport/http/http-exchange-pool.ts';
import type { AttemptResult, Outcome } from '../transport/types.ts';
import type { EngineParts } from './compose.ts';
import type { VirtualDevice } from './device/device.ts';
import type { DeviceHost, DownlinkCounts } from './device/device-host.ts';
import type { Engine } from './engine.ts';
import type { AttemptRecord } from './events.ts';
import { globalIndex, localIndex } from './fleet/shard.ts';
import { loggedBody } from './mqtt/mqtt-attempt.ts';
import type { SentAttempt } from './mqtt/mqtt-attempt.ts';
import type { DeliveryTracker } from './mqtt/delivery.ts';
import type { LinkHost, MqttLink } from './mqtt/mqtt-link.ts';
import { Ramp } from './schedule/ramp.ts';
import type { RampHost } from './schedule/ramp.ts';
import type { Schedulable } from './schedule/scheduler.ts';
import { takeAnomalies } from '../template/generators/anomaly-labels.ts';

const ABANDONED_AT_TIMEOUT = 'still in flight when the drain timeout ended';
const ABANDONED_AT_INTERRUPT = 'abandoned at second interrupt';

/** What the fleet reports to: the engine's events and downlink counts, why its drain ended, and its stop once every device ran its iterations. */
export type FleetOwner = Pick<Engine, 'emit' | 'listenerCount' | 'stop' | 'misdeclared' | 'downlink' | 'abandonCause'>;

/**
 * The run's side of its devices: what every device, MQTT link and the ramp call back into. It
 * starts and stops devices as the ramp says, counts what is in flight, started, finished and online,
 * records each attempt's end (abandoned ones apart) and closes the devices' sessions at the end.
 * The engine runs the run's life around it (start, stop, drain, snapshots); the devices' hot path
 * calls this directly, one object per run.
 */
export class FleetHost implements DeviceHost, LinkHost, RampHost {
  /** Set by the engine's stop: devices end their current task and start nothing more. */
  stopping = false;
  readonly iterations: number | undefined;
  readonly sharedHttpPool: boolean;
  /** Lent to devices one request at a time: it holds as many as were ever in flight at once. */
  readonly httpExchanges = new HttpExchangePool();
  /** End-to-end delivery, when some publish carries a delivery header. */
  readonly delivery: DeliveryTracker | undefined;
  /** The engine's counts of what the devices received, which they add to. */
  readonly downlink: DownlinkCounts;
  /** Clock ms the run started. */
  startClock = 0;
  started = 0;
  finished = 0;
  inFlight = 0;
  /** Attempts still in flight when the drain timeout ended: aborted, and kept out of the stats. */
  abandoned = 0;
  private abandoning = false;
  /** Started devices that only listen and have not finished: they stay until the run ends. */
  private listening = 0;
  /** Started devices whose MQTT session is not up: they count as not online. */
  private offlineDevices = 0;
  private allOnlineAtMs: number | undefined;
  private readonly closingLinks = new Set<Promise<void>>();
  /** By local index (the shard's own numbering); a device keeps its global index as `deviceIndex`. */
  private readonly devices: (VirtualDevice | undefined)[];
  /** Devices stopped by the shape that are still finishing an attempt; the drain must reach them too. */
  private readonly retiring = new Set<VirtualDevice>();
  private drained: (() => void) | undefined;
  readonly ramp = new Ramp(this);
  /** The run's seed, which each device's reaction stream is drawn from. */
  private readonly seed: string;

  constructor(
    plan: RunPlan,
    private readonly parts: EngineParts,
    private readonly owner: FleetOwner,
  ) {
    this.seed = plan.seed;
    this.iterations = plan.iterations;
    this.sharedHttpPool = !plan.http.connectionPerDevice;
    this.delivery = parts.delivery;
    this.downlink = owner.downlink;
    this.devices = new Array<VirtualDevice | undefined>(parts.ownedDevices);
  }

  /** Devices started and not finished, less those whose MQTT session is down. */
  get online(): number {
    return this.started - this.finished - this.offlineDevices;
  }

  /** Ms from the start until the devices online first reached the first target; undefined if never. */
  get timeToAllOnlineMs(): number | undefined {
    return this.allOnlineAtMs;
  }

  now(): number {
    return this.parts.clock.now();
  }

  sinceStart(clockMs: number): number {
    return clockMs - this.startClock;
  }

  elapsedMs(): number {
    return this.parts.clock.now() - this.startClock;
  }

  schedule(item: Schedulable, dueAt: number): void {
    this.parts.scheduler.schedule(item, dueAt);
  }

  unschedule(item: Schedulable): void {
    this.parts.scheduler.unschedule(item);
  }

  rampStarted(from: number, goal: number, overMs: number): void {
    this.parts.offered.rampTo(this.elapsedMs(), from, goal, overMs);
  }

  startDevice(local: number): void {
    const device = this.parts.devices.make(globalIndex(local, this.parts.shard), this);
    this.devices[local] = device;
    if (device.link) this.offlineDevices++;
    device.lifecycle = this.parts.lifecycle.attach(device, this.startClock);
    // Before the device first wakes: one that joins its duty cycle asleep starts off the network.
    device.lifecycle?.start(this.parts.clock.now());
    device.wake();
    device.link?.wake();
  }

  stopDevice(local: number, running: number): void {
    this.owner.emit('retire', globalIndex(local, this.parts.shard), running);
    const device = this.devices[local];
    if (!device || device.finished) return;
    this.retiring.add(device);
    device.retire();
  }

  onStarted(device: VirtualDevice): void {
    this.started++;
    if (device.listening) this.listening++;
    this.owner.emit('spawn', device.deviceIndex, this.started);
    if (!device.link) this.noteOnline();
  }

  onFinished(device: VirtualDevice): void {
    this.finished++;
    this.parts.lifecycle.finished(device);
    if (device.listening) this.listening--;
    if (this.retiring.delete(device) && this.devices[localIndex(device.deviceIndex, this.parts.shard)] === device) this.parts.transport.release(device.deviceIndex);
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
    if (!this.stopping && this.iterations !== undefined && this.ramp.settled && this.retiring.size === 0 && this.finished + this.listening === this.started) this.owner.stop('iterations');
  }

  reactionStream(deviceIndex: number): Random {
    return reactionRandom(this.seed, deviceIndex);
  }

  queuedWhileOffline(): void {
    this.parts.lifecycle.counts.queuedWhileOffline++;
  }

  misdeclared(message: string): void {
    this.owner.misdeclared(message);
  }

  connectEnded(link: MqttLink, outcome: Outcome, error: string | undefined, latencyMicros: number, answered: boolean): void {
    this.onAttempt(link.device as VirtualDevice, link.stats, link.sent, { outcome, error, bytesIn: 0, answered }, latencyMicros, -1, false);
  }

  sessionOnline(link: MqttLink): void {
    if ((link.device as VirtualDevice).finished) return;
    this.offlineDevices--;
    this.noteOnline();
  }

  sessionOffline(link: MqttLink): void {
    if (!(link.device as VirtualDevice).finished) this.offlineDevices++;
  }

  /** An HTTP device's lifecycle took it off the network (false) or put it back on (true). */
  httpDeviceOnline(online: boolean): void {
    this.offlineDevices += online ? -1 : 1;
    if (online) this.noteOnline();
  }

  private noteOnline(): void {
    if (this.allOnlineAtMs === undefined && this.online >= this.parts.onlineGoal) this.allOnlineAtMs = this.elapsedMs();
  }

  attemptStarted(): void {
    this.inFlight++;
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
    if (this.owner.listenerCount('attempt') === 0) return;
    this.owner.emit('attempt', {
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

  /** How the request log labels an attempt the drain abandoned. */
  private get abandonLabel(): string {
    return this.owner.abandonCause === 'second interrupt' ? ABANDONED_AT_INTERRUPT : ABANDONED_AT_TIMEOUT;
  }

  /** Resolves when nothing is in flight, or after `ms`. */
  async waitForDrain(ms: number): Promise<void> {
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

  /** Ends the wait for the drain now: what is still in flight will be abandoned (a second Ctrl-C). */
  endDrain(): void {
    this.drained?.();
  }

  /** The run stopped: devices with nothing in flight finish now; those that only listen stay subscribed through the drain. */
  finishIdle(): void {
    for (const device of this.devices) if (device && !device.inFlight && !device.listening) device.finish();
  }

  /** The drain is over: devices that only listen finish, and every session closes. */
  closeSessions(): void {
    for (const device of this.devices) if (device?.listening) device.finish();
    // What is still in flight now is abandoned: destroying the connections settles those attempts
    // at once, and onAttempt counts them apart instead of as failures of the target.
    this.abandoning = this.inFlight > 0;
    for (const device of [...this.devices, ...this.retiring]) {
      if (!device?.link) continue;
      if (this.abandoning) device.sessionDown(this.abandonLabel, false);
      this.closingLinks.add(device.link.close(!this.abandoning));
    }
  }

  /** Resolves once every session closing has closed. */
  async sessionsClosed(): Promise<void> {
    await Promise.all(this.closingLinks);
  }
}
