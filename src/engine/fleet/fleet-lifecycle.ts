import { lifecycleRandom } from '../../identity/rng.ts';
import type { FleetEntry, FleetEvent } from '../../profile/types.ts';
import { DeviceLifecycle } from '../device/device-lifecycle.ts';
import type { DownKind, LifecycleDevice, LifecycleHost } from '../device/device-lifecycle.ts';
import type { VirtualDevice } from '../device/device.ts';
import type { OfferedLoad } from '../schedule/offered-load.ts';
import { planFleetEvents } from '../schedule/fleet-events.ts';
import type { PlannedEvent } from '../schedule/fleet-events.ts';
import type { Schedulable } from '../schedule/scheduler.ts';

/** What the results say of the fleet's lifecycle. */
export interface LifecycleCounts {
  sleeps: number;
  wakes: number;
  reboots: number;
  /** Devices an offline window took off the network. */
  offline: number;
  /** Messages with a delivery header sent while their receiver was off the network, received after it came back. */
  queuedWhileOffline: number;
  /** What the profile's fleet events planned: devices rebooted by waves, devices taken offline by windows (this process's share). */
  readonly planned: { readonly reboots: number; readonly offline: number };
}

/** The engine's side: its clock and scheduler, and the count of devices online. */
export interface FleetLifecycleHost {
  now(): number;
  /** Ms since the run's start. */
  elapsedMs(): number;
  schedule(item: Schedulable, dueAt: number): void;
  unschedule(item: Schedulable): void;
  /** A device without an MQTT session left the network or came back: devices online change with it. */
  httpDeviceOnline(online: boolean): void;
}

/**
 * The fleet's lifecycle: each device's sleeps and reboots (its model's `lifecycle`) and the
 * profile's fleet events, planned once from the seed. It counts what happened, keeps the offered
 * load to the devices the plan has on the network, and knows how many the plan has off it.
 */
export class FleetLifecycle implements LifecycleHost {
  readonly any: boolean;
  readonly counts: LifecycleCounts;
  /** Devices the plan has off the network now. */
  plannedDown = 0;
  private readonly events: Map<number, PlannedEvent[]>;

  constructor(
    private readonly fleet: readonly FleetEntry[],
    private readonly layout: Uint16Array,
    fleetEvents: readonly FleetEvent[],
    private readonly seed: string,
    devices: number,
    /** Whether this process runs device `index` (its shard's stripe). */
    owns: (index: number) => boolean,
    private readonly offered: OfferedLoad,
    private readonly host: FleetLifecycleHost,
  ) {
    this.events = fleetEvents.length > 0 ? planFleetEvents(fleetEvents, seed, devices, (index) => fleet[layout[index] ?? 0]?.model.name ?? '') : new Map<number, PlannedEvent[]>();
    this.any = fleetEvents.length > 0 || fleet.some((entry) => entry.model.lifecycle !== undefined);
    // This process's part of the plan, exactly: the events' devices it runs.
    const planned = { reboots: 0, offline: 0 };
    for (const [index, list] of this.events) {
      if (!owns(index)) continue;
      for (const event of list) planned[event.kind === 'reboot' ? 'reboots' : 'offline']++;
    }
    this.counts = { sleeps: 0, wakes: 0, reboots: 0, offline: 0, queuedWhileOffline: 0, planned };
  }

  /** The lifecycle of a device starting now, or undefined when nothing happens to it. */
  attach(device: VirtualDevice, startClock: number): DeviceLifecycle | undefined {
    if (!this.any) return undefined;
    const spec = device.bound.model.lifecycle;
    const now = this.host.now();
    // A device that starts during an event's window joins it; one that starts after it is not taken.
    const events = (this.events.get(device.deviceIndex) ?? []).map((event) => ({ ...event, atMs: startClock + event.atMs })).filter((event) => event.atMs + event.forMs > now);
    if (!spec && events.length === 0) return undefined;
    return new DeviceLifecycle(device, spec, events, lifecycleRandom(this.seed, device.deviceIndex), this);
  }

  now(): number {
    return this.host.now();
  }

  schedule(item: Schedulable, dueAt: number): void {
    this.host.schedule(item, dueAt);
  }

  unschedule(item: Schedulable): void {
    this.host.unschedule(item);
  }

  lifecycleDown(device: LifecycleDevice, kind: DownKind): void {
    this.lifecycleEvent(kind);
    this.plannedDown++;
    const virtual = device as VirtualDevice;
    this.offered.deviceDown(this.layout[virtual.deviceIndex] ?? 0, this.host.elapsedMs(), 1);
    if (!virtual.link) this.host.httpDeviceOnline(false);
  }

  lifecycleUp(device: LifecycleDevice, kind: DownKind, rebooted: boolean): void {
    if (kind === 'sleep') this.counts.wakes++;
    this.plannedDown--;
    const virtual = device as VirtualDevice;
    const entry = this.layout[virtual.deviceIndex] ?? 0;
    const at = this.host.elapsedMs();
    this.offered.deviceDown(entry, at, -1);
    if (rebooted && (this.fleet[entry]?.model.boot.length ?? 0) > 0) this.offered.rebooted(entry, at);
    if (!virtual.link) this.host.httpDeviceOnline(true);
  }

  lifecycleEvent(kind: DownKind): void {
    if (kind === 'sleep') this.counts.sleeps++;
    else if (kind === 'reboot') this.counts.reboots++;
    else this.counts.offline++;
  }

  /** A device finished while off the network: it no longer counts as planned down. */
  finished(device: VirtualDevice): void {
    if (!device.lifecycle?.down) return;
    this.plannedDown--;
    this.offered.deviceDown(this.layout[device.deviceIndex] ?? 0, this.host.elapsedMs(), -1);
    if (!device.link) this.host.httpDeviceOnline(true);
  }
}
