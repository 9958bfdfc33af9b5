import { GeneratorMonitor } from '../metrics/generator-monitor.ts';
import type { IntervalHealth } from '../metrics/history.ts';
import { DEFAULT_WINDOW_S, RunStats } from '../metrics/stats.ts';
import type { RunPlan } from '../profile/types.ts';
import { HttpTransport } from '../transport/http/http.ts';
import { systemClock } from '../util/clock.ts';
import type { Clock } from '../util/clock.ts';
import { bindModel } from './device/bound-model.ts';
import { httpTransportOptions } from './device/http-options.ts';
import { RequestLogRedactor } from './device/redaction.ts';
import { DeviceFactory } from './fleet/device-factory.ts';
import { DeviceLinks } from './fleet/device-links.ts';
import { FleetLifecycle } from './fleet/fleet-lifecycle.ts';
import { entryOrdinals, fleetIdFunctions, layoutFleet } from './fleet/fleet-layout.ts';
import { globalIndex, ownedBelow, WHOLE_RUN } from './fleet/shard.ts';
import type { Shard } from './fleet/shard.ts';
import { DeliveryTracker, measuresDelivery } from './mqtt/delivery.ts';
import { DeviceTlsResolver } from './mqtt/tls-files.ts';
import { OfferedLoad } from './schedule/offered-load.ts';
import { Scheduler } from './schedule/scheduler.ts';
import type { TimerApi } from './schedule/scheduler.ts';

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

/** What the composed parts call back into: the run's clock and online count, which only the running engine keeps. */
export interface ComposeHost {
  /** Ms since the run started. */
  elapsedMs(): number;
  /** An HTTP device's lifecycle took it off the network (false) or put it back on (true). */
  httpDeviceOnline(online: boolean): void;
}

/** Everything one run is made of, wired to each other and to the host, nothing started. */
export interface EngineParts {
  /** Which devices this process runs: all of them, or one stripe of the global indices. */
  readonly shard: Shard;
  /** Devices this process owns: the fleet's size, or the shard's stripe of it. */
  readonly ownedDevices: number;
  readonly stats: RunStats;
  readonly clock: Clock;
  readonly scheduler: Scheduler;
  readonly snapshotIntervalMs: number;
  readonly steered: boolean;
  readonly generator: IntervalSampler;
  /** The engine's own monitor, when the caller gave no sampler: started and stopped with the run. */
  readonly ownMonitor: GeneratorMonitor | undefined;
  readonly transport: HttpTransport;
  /** A target like http://host/api puts every request path under /api. */
  readonly basePath: string;
  readonly devices: DeviceFactory;
  /** Each device's simulated network link, when the profile declares any. */
  readonly links: DeviceLinks;
  /** Each global index's fleet entry. */
  readonly layout: Uint16Array;
  readonly delivery: DeliveryTracker | undefined;
  /** The load the shape means to offer. */
  readonly offered: OfferedLoad;
  /** Sleeps, reboots and fleet events, and their counts. */
  readonly lifecycle: FleetLifecycle;
  readonly redactor: RequestLogRedactor;
  /** The count at which every device is online: the first stage's target that starts any, or the fleet. */
  readonly onlineGoal: number;
}

/**
 * Builds a run from its plan: the fleet's layout and identities, the HTTP transport, the device
 * factory with its MQTT settings, delivery tracking, the offered-load model and the fleet's
 * lifecycle. Throws when the plan needs something the options do not give (a broker).
 */
export function compose(options: EngineOptions, host: ComposeHost): EngineParts {
  const plan = options.plan;
  const shard = plan.shard ?? WHOLE_RUN;
  const ownedDevices = ownedBelow(plan.devices, shard);
  const stats = new RunStats();
  // A shard's intervals are merged with the others': they carry their histograms for that.
  stats.intervalHistograms = shard.count > 1;
  const clock = options.clock ?? systemClock;
  const scheduler = new Scheduler(clock, options.timers);
  const ownMonitor = options.generator ? undefined : new GeneratorMonitor();
  const target = new URL(options.target);
  const layout = layoutFleet(plan.fleet);
  const entryFor = stats.entryFor.bind(stats);
  const bound = plan.fleet.map((entry) => bindModel(entry.model, entryFor));
  const ordinals = entryOrdinals(layout, plan.fleet.length);
  const idOf = fleetIdFunctions(plan.fleet, ordinals, plan.seed);
  const tlsSource = { fleet: plan.fleet, layout, ordinals, idOf };
  const links = new DeviceLinks(plan.fleet, layout, ordinals, plan.seed);
  const httpOptions = httpTransportOptions(plan.http, target, tlsSource);
  const transport = new HttpTransport(target.origin, links.any ? { ...httpOptions, linkFor: (index) => links.conditionsFor(index) } : httpOptions, plan.localAddresses);
  const delivery = measuresDelivery(plan) ? new DeliveryTracker(plan.devices, entryFor, (index) => (idOf[layout[index] ?? 0] as (index: number) => string)(index)) : undefined;
  // Rows are made in a fixed order (the models', delivery's, CONNECT): the history lists them in it.
  const connectStats = plan.fleet.map((entry) => (entry.model.mqtt ? stats.entryFor('CONNECT', entry.model.name) : undefined));
  const needsBroker = plan.fleet.some((entry) => entry.model.mqtt !== undefined && entry.count > 0);
  if (needsBroker && options.broker === undefined) throw new Error('a device model keeps an MQTT session but no broker was given');
  const broker = options.broker === undefined ? undefined : new URL(options.broker);
  const devices = new DeviceFactory({
    plan,
    layout,
    ordinals,
    bound,
    idOf,
    connectStats,
    broker,
    mqttTls: broker?.protocol === 'mqtts:' || broker?.protocol === 'wss:' ? new DeviceTlsResolver(plan.mqtt.tls, tlsSource) : undefined,
    links,
  });
  const offered = new OfferedLoad(plan.fleet, plan.iterations, entryFor, { count: ownedDevices, entryOf: (local) => layout[globalIndex(local, shard)] ?? 0 });
  const lifecycle = new FleetLifecycle(plan.fleet, layout, plan.fleetEvents ?? [], plan.seed, plan.devices, (index) => index % shard.count === shard.index, offered, {
    now: () => clock.now(),
    elapsedMs: () => host.elapsedMs(),
    schedule: (item, dueAt) => scheduler.schedule(item, dueAt),
    unschedule: (item) => scheduler.unschedule(item),
    httpDeviceOnline: (online) => host.httpDeviceOnline(online),
  });
  // A share judged over less than two task periods would see a paced fleet's lumps, not its rate.
  stats.judgeLoad(Math.min(60, Math.max(DEFAULT_WINDOW_S, (2 * offered.longestCycleMs) / 1000)), plan.minDelivered ?? null, offered.noise, offered.closedModels);
  return {
    shard,
    ownedDevices,
    stats,
    clock,
    scheduler,
    snapshotIntervalMs: options.snapshotIntervalMs ?? 1000,
    steered: options.steered === true,
    generator: options.generator ?? (ownMonitor as GeneratorMonitor),
    ownMonitor,
    transport,
    basePath: target.pathname.replace(/\/+$/, ''),
    devices,
    links,
    layout,
    delivery,
    offered,
    lifecycle,
    redactor: new RequestLogRedactor(plan, layout),
    onlineGoal: ownedBelow(plan.stages?.find((stage) => stage.devices > 0)?.devices ?? plan.devices, shard),
  };
}
