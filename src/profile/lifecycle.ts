import { durationAt } from './field-readers.ts';
import { DEFAULT_BOOT_MS } from './lifecycle-schema.ts';
import type { FleetEventDoc, LifecycleDoc } from './lifecycle-schema.ts';
import type { FieldPath, YamlSource } from './yaml-source.ts';

/** A device's own lifecycle: it sleeps and wakes in a duty cycle, and reboots now and then. */
export interface Lifecycle {
  /** Awake for `awakeMs`, then asleep (disconnected) for `asleepMs`, each drawn ± `jitter` of itself, seeded per device. */
  /** `startAwake`: every device starts at the beginning of an awake stretch, in step; else at a seeded point of its cycle. */
  readonly sleep: { readonly awakeMs: number; readonly asleepMs: number; readonly jitter: number; readonly startAwake: boolean } | undefined;
  /** A reboot on average every `everyMs` (exponential, seeded); down for `bootMs`, then the boot tasks run again. */
  readonly reboot: { readonly everyMs: number; readonly bootMs: number } | undefined;
}

/** Something that happens to a share of the fleet at a run time. */
export interface FleetEvent {
  /** `reboot`: a reboot wave; `offline`: the devices lose their network for `forMs`. */
  readonly kind: 'reboot' | 'offline';
  /** Ms from the run's start. */
  readonly atMs: number;
  /** 0 to 1: which devices is seeded, and the count is exact (the share of the fleet, rounded). */
  readonly share: number;
  /** The devices' moments spread evenly over this long from `atMs` (0: all at once). */
  readonly overMs: number;
  /** Offline: how long the devices stay off the network; reboot: how long a reboot takes. */
  readonly forMs: number;
  /** Only devices of this model (its `name`) are taken, the share being of them; undefined: the whole fleet. */
  readonly model?: string | undefined;
}

function shareAt(source: YamlSource, fieldPath: FieldPath, value: string | number): number {
  const fraction = typeof value === 'number' ? value : Number(String(value).replace('%', '').trim()) / 100;
  if (!(fraction >= 0 && fraction <= 1)) throw source.error(fieldPath, `${JSON.stringify(value)} is not a share from 0% to 100%`);
  return fraction;
}

function positiveAt(source: YamlSource, fieldPath: FieldPath, value: string | number | undefined, fallback: number): number {
  const ms = durationAt(source, fieldPath, value, fallback);
  if (ms <= 0) throw source.error(fieldPath, 'must be greater than 0');
  return ms;
}

/** Reads a model's `lifecycle` (checked against `lifecycleSchema`). */
export function lifecycleAt(source: YamlSource, raw: LifecycleDoc | undefined): Lifecycle | undefined {
  if (raw === undefined) return undefined;
  const { sleep, reboot } = raw;
  return {
    sleep: sleep && {
      awakeMs: positiveAt(source, ['lifecycle', 'sleep', 'awake'], sleep.awake, 0),
      asleepMs: positiveAt(source, ['lifecycle', 'sleep', 'asleep'], sleep.asleep, 0),
      jitter: sleep.jitter ?? 0.1,
      startAwake: sleep.start === 'awake',
    },
    reboot: reboot && {
      everyMs: positiveAt(source, ['lifecycle', 'reboot', 'every'], reboot.every, 0),
      bootMs: durationAt(source, ['lifecycle', 'reboot', 'bootTime'], reboot.bootTime, DEFAULT_BOOT_MS),
    },
  };
}

/** Reads a profile's `events` (checked against `fleetEventsSchema`). */
type EventOfKind = { readonly kind: 'reboot'; readonly event: NonNullable<FleetEventDoc['reboot']> } | { readonly kind: 'offline'; readonly event: NonNullable<FleetEventDoc['offline']> };

/** The one kind an event item declares, or undefined when it declares none or both. */
function eventOf(item: FleetEventDoc): EventOfKind | undefined {
  if (item.reboot !== undefined && item.offline === undefined) return { kind: 'reboot', event: item.reboot };
  if (item.offline !== undefined && item.reboot === undefined) return { kind: 'offline', event: item.offline };
  return undefined;
}

export function fleetEventsAt(source: YamlSource, raw: readonly FleetEventDoc[] | undefined, models: readonly string[]): FleetEvent[] {
  return (raw ?? []).map((item, i) => {
    const found = eventOf(item);
    if (found === undefined) throw source.error(['events', i], "an event is one of 'reboot' or 'offline'");
    const { kind, event } = found;
    const at = ['events', i, kind];
    if (event.model !== undefined && !models.includes(event.model)) throw source.error([...at, 'model'], `no model named '${event.model}' in the fleet (models: ${models.join(', ')})`);
    return {
      kind,
      atMs: durationAt(source, [...at, 'at'], event.at, 0),
      share: shareAt(source, [...at, 'share'], event.share),
      overMs: durationAt(source, [...at, 'over'], event.over, 0),
      forMs: found.kind === 'offline' ? positiveAt(source, [...at, 'for'], found.event.for, 0) : durationAt(source, [...at, 'bootTime'], found.event.bootTime, DEFAULT_BOOT_MS),
      ...(event.model === undefined ? {} : { model: event.model }),
    };
  });
}
