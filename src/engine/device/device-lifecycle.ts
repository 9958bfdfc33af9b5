import type { Random } from '../../identity/rng.ts';
import type { Lifecycle } from '../../profile/lifecycle.ts';
import type { Schedulable } from '../schedule/scheduler.ts';
import type { PlannedEvent } from '../schedule/fleet-events.ts';

/** Why a device is off the network. */
export type DownKind = 'sleep' | 'reboot' | 'offline';

/** The device side: what the lifecycle turns off and on. */
export interface LifecycleDevice {
  /** No attempt in flight: a device falls asleep only once its work in hand is done. */
  readonly idle: boolean;
  /** Starts nothing more until `resume`. */
  suspend(): void;
  /** Back: a reboot starts over at the boot tasks with the next boot count; else the device goes on where it stopped. */
  resume(reboot: boolean): void;
  /** The device's MQTT link, if it keeps a session. */
  readonly link: { suspend(mode: 'sleep' | 'drop', reason: string): void; resume(): void } | undefined;
}

export interface LifecycleHost {
  now(): number;
  schedule(item: Schedulable, dueAt: number): void;
  unschedule(item: Schedulable): void;
  /** The device left the network (`kind`), or came back; counted, and reflected in devices online. */
  lifecycleDown(device: LifecycleDevice, kind: DownKind): void;
  lifecycleUp(device: LifecycleDevice, kind: DownKind, rebooted: boolean): void;
  /** A reboot or an offline window that found the device already down still counts. */
  lifecycleEvent(kind: DownKind): void;
}

/** Epoch ms with sub-ms resolution, as delivery headers carry. */
function epochMs(): number {
  return performance.timeOrigin + performance.now();
}

/** How often a device due to sleep checks whether its work in hand is done. */
const SETTLE_POLL_MS = 20;

const enum State {
  Awake,
  /** Due to sleep, finishing the attempt in flight; starts nothing new. */
  Settling,
  Down,
}

/**
 * One device's life on the network: duty-cycle sleeps, random reboots, and the fleet events that
 * take it (reboot waves, offline windows). One Schedulable on the engine's scheduler per device
 * that has any of these; devices without any carry none.
 */
export class DeviceLifecycle implements Schedulable {
  dueAt = 0;
  heapIndex = -1;
  private state = State.Awake;
  private downKind: DownKind = 'sleep';
  private downUntil = 0;
  private rebootPending = false;
  private nextSleepAt = Infinity;
  private nextRebootAt = Infinity;
  private eventIndex = 0;
  /** Epoch ms of the last stretch off the network: messages sent within it and received after reached a sleeping session's queue. */
  lastDownEpoch = Infinity;
  lastUpEpoch = -Infinity;
  private stopped = false;

  constructor(
    private readonly device: LifecycleDevice,
    private readonly spec: Lifecycle | undefined,
    /** Fleet events that take this device, at clock times, in order. */
    private readonly events: readonly PlannedEvent[],
    private readonly random: Random,
    private readonly host: LifecycleHost,
  ) {}

  /**
   * The device is starting at `now` (called before it first wakes): it joins its duty cycle at a
   * seeded point, so a fleet's sleepers are spread over the cycle rather than in step; one that
   * joins asleep starts off the network.
   */
  start(now: number): void {
    const sleep = this.spec?.sleep;
    const reboot = this.spec?.reboot;
    if (reboot) this.nextRebootAt = now + this.exponential(reboot.everyMs);
    if (sleep) {
      const awake = this.draw(sleep.awakeMs, sleep.jitter);
      const asleep = this.draw(sleep.asleepMs, sleep.jitter);
      const phase = sleep.startAwake ? 0 : this.random() * (awake + asleep);
      if (phase < awake) this.nextSleepAt = now + awake - phase;
      else this.goDown('sleep', now + awake + asleep - phase);
    }
    this.arm();
  }

  /** The device finished: nothing more happens to it. */
  stop(): void {
    this.stopped = true;
    this.host.unschedule(this);
  }

  get down(): boolean {
    return this.state !== State.Awake;
  }

  /** Whether a message sent at `sentEpochMs` was sent while this device was last off the network. */
  sentWhileDown(sentEpochMs: number): boolean {
    return sentEpochMs >= this.lastDownEpoch && sentEpochMs < this.lastUpEpoch;
  }

  wake(): void {
    if (this.stopped) return;
    const now = this.host.now();
    if (this.state === State.Settling) {
      if (!this.device.idle) return this.host.schedule(this, now + SETTLE_POLL_MS);
      this.state = State.Down;
      this.device.link?.suspend('sleep', 'device asleep');
    }
    if (this.state === State.Down && now >= this.downUntil) this.comeBack(now);
    const event = this.events[this.eventIndex];
    if (event && event.atMs <= now) {
      this.eventIndex++;
      this.goDown(event.kind, now + event.forMs);
    }
    if (this.nextRebootAt <= now) {
      const reboot = this.spec?.reboot;
      this.nextRebootAt = reboot ? now + this.exponential(reboot.everyMs) : Infinity;
      if (reboot) this.goDown('reboot', now + reboot.bootMs);
    }
    const sleep = this.spec?.sleep;
    if (sleep && this.state === State.Awake && this.nextSleepAt <= now) this.goDown('sleep', now + this.draw(sleep.asleepMs, sleep.jitter));
    this.arm();
  }

  private goDown(kind: DownKind, until: number): void {
    if (kind === 'reboot') this.rebootPending = true;
    if (this.state !== State.Awake) {
      this.host.lifecycleEvent(kind);
      this.downUntil = Math.max(this.downUntil, until);
      // A reboot or a tunnel cuts a device short that was still finishing its work before sleeping.
      if (kind !== 'sleep' && this.state === State.Settling) this.leave(kind);
      return;
    }
    this.downKind = kind;
    this.downUntil = until;
    this.lastDownEpoch = epochMs();
    this.lastUpEpoch = Infinity;
    this.host.lifecycleDown(this.device, kind);
    this.device.suspend();
    if (kind === 'sleep' && !this.device.idle) {
      this.state = State.Settling;
      return;
    }
    this.leave(kind);
  }

  private leave(kind: DownKind): void {
    this.state = State.Down;
    this.device.link?.suspend(kind === 'sleep' ? 'sleep' : 'drop', kind === 'sleep' ? 'device asleep' : kind === 'reboot' ? 'device rebooted' : 'device offline');
  }

  private comeBack(now: number): void {
    this.state = State.Awake;
    this.lastUpEpoch = epochMs();
    const rebooted = this.rebootPending;
    this.rebootPending = false;
    this.host.lifecycleUp(this.device, this.downKind, rebooted);
    this.device.resume(rebooted);
    this.device.link?.resume();
    const sleep = this.spec?.sleep;
    if (sleep) this.nextSleepAt = now + this.draw(sleep.awakeMs, sleep.jitter);
  }

  private arm(): void {
    if (this.heapIndex >= 0 || this.stopped) return;
    if (this.state === State.Settling) return this.host.schedule(this, this.host.now() + SETTLE_POLL_MS);
    const next = Math.min(this.state === State.Down ? this.downUntil : this.nextSleepAt, this.nextRebootAt, this.events[this.eventIndex]?.atMs ?? Infinity);
    if (next < Infinity) this.host.schedule(this, next);
  }

  /** `ms` ± `jitter` of itself, seeded. */
  private draw(ms: number, jitter: number): number {
    return ms * (1 + jitter * (2 * this.random() - 1));
  }

  private exponential(meanMs: number): number {
    return -meanMs * Math.log(1 - this.random());
  }
}
