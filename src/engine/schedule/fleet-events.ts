import { deviceRandom } from '../../identity/rng.ts';
import type { FleetEvent } from '../../profile/types.ts';

/** One device's part in a fleet event: when (ms from the run's start) and for how long. */
export interface PlannedEvent {
  readonly kind: FleetEvent['kind'];
  readonly atMs: number;
  readonly forMs: number;
}

/**
 * Which devices each fleet event takes, and when: exactly round(share × fleet) devices, the ones
 * whose seeded draw for that event is lowest, so the count is the plan's whatever the seed and
 * every shard agrees on who is in it; their moments spread evenly over `over` in that order.
 * Returns each taking device's events in time order.
 */
export function planFleetEvents(events: readonly FleetEvent[], seed: string, devices: number, modelOf: (index: number) => string = () => ''): Map<number, PlannedEvent[]> {
  const byDevice = new Map<number, PlannedEvent[]>();
  events.forEach((event, e) => {
    const candidates = Array.from({ length: devices }, (_, index) => index).filter((index) => event.model === undefined || modelOf(index) === event.model);
    const count = Math.round(event.share * candidates.length);
    if (count === 0) return;
    const draws = new Float64Array(devices);
    for (const index of candidates) draws[index] = deviceRandom(`${seed}:event:${e}`, index)();
    const order = candidates.sort((a, b) => (draws[a] as number) - (draws[b] as number) || a - b);
    for (let rank = 0; rank < count; rank++) {
      const index = order[rank] as number;
      const planned = { kind: event.kind, atMs: event.atMs + (event.overMs * rank) / count, forMs: event.forMs };
      const list = byDevice.get(index);
      if (list) list.push(planned);
      else byDevice.set(index, [planned]);
    }
  });
  for (const list of byDevice.values()) list.sort((a, b) => a.atMs - b.atMs);
  return byDevice;
}

/** How many devices the events take, by kind, in a fleet of one model: the plan the results are held against. */
export function plannedCounts(events: readonly FleetEvent[], devices: number): { reboots: number; offline: number } {
  let reboots = 0;
  let offline = 0;
  for (const event of events) {
    const count = Math.round(event.share * devices);
    if (event.kind === 'reboot') reboots += count;
    else offline += count;
  }
  return { reboots, offline };
}
