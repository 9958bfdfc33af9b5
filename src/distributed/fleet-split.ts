import { ownedBelow } from '../engine/fleet/shard.ts';
import { UsageError } from '../errors.ts';

/** A fleet-wide device count as the live workers run it. */
export interface FleetSplit {
  /** The fleet-wide bound each worker is told (`Engine.rampTo`'s meaning): its stripe of the indices below it. */
  readonly bound: number;
  /** Per live worker (by index), its share: the devices of its stripe below `bound`. */
  readonly shares: ReadonlyMap<number, number>;
}

/** The most devices the live workers can run: their stripes of the fleet's size. */
export function liveCeiling(live: readonly number[], count: number, fleetSize: number): number {
  return live.reduce((sum, index) => sum + ownedBelow(fleetSize, { index, count }), 0);
}

/**
 * Splits `devices` over the live workers the way `--shard` splits a fleet: each worker keeps its
 * own stripe of the global indices (so every device keeps its identity), and the bound is the
 * smallest whose live stripes hold `devices`. With every worker live that is `devices` itself,
 * each shard taking `ownedBelow(devices)`; with one lost, the others run further up their stripes
 * to make up its part, up to the fleet's size.
 */
export function splitAcrossLive(devices: number, live: readonly number[], count: number, fleetSize: number): FleetSplit {
  const ceiling = liveCeiling(live, count, fleetSize);
  if (!Number.isSafeInteger(devices) || devices < 0 || devices > ceiling) {
    const lost = count - live.length;
    const why = lost === 0 ? "the fleet's size" : `what the ${live.length} live workers of ${count} can run of the fleet's ${fleetSize}`;
    throw new UsageError(`devices: expected a whole number from 0 to ${ceiling} (${why}), got ${String(devices)}`);
  }
  const held = (bound: number): number => liveCeiling(live, count, bound);
  // Each step of the bound adds one device to one stripe, live or not: the count held only grows, one at a time.
  let low = 0;
  let high = fleetSize;
  while (low < high) {
    const middle = Math.floor((low + high) / 2);
    if (held(middle) >= devices) high = middle;
    else low = middle + 1;
  }
  return { bound: low, shares: new Map(live.map((index) => [index, ownedBelow(low, { index, count })])) };
}
