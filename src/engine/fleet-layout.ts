import type { FleetEntry, Shard } from '../profile/types.ts';

/**
 * Which fleet entry each device index belongs to, interleaved by smooth weighted round robin so a
 * partial spawn (or a shard) gets the fleet's mix rather than all of one model first.
 */
export function layoutFleet(fleet: readonly FleetEntry[]): Uint16Array {
  const total = fleet.reduce((sum, entry) => sum + entry.count, 0);
  const layout = new Uint16Array(total);
  if (fleet.length === 1) return layout;
  const remaining = fleet.map((entry) => entry.count);
  const credit = fleet.map(() => 0);
  for (let i = 0; i < total; i++) {
    let best = -1;
    for (let e = 0; e < fleet.length; e++) {
      if ((remaining[e] ?? 0) === 0) continue;
      credit[e] = (credit[e] ?? 0) + (fleet[e]?.count ?? 0);
      if (best < 0 || (credit[e] ?? 0) > (credit[best] ?? 0)) best = e;
    }
    credit[best] = (credit[best] ?? 0) - total;
    remaining[best] = (remaining[best] ?? 0) - 1;
    layout[i] = best;
  }
  return layout;
}

/** Devices of each fleet entry that a shard owns (every `count`-th index from `index`). */
export function ownedByEntry(fleet: readonly FleetEntry[], shard: Shard): number[] {
  if (shard.count === 1) return fleet.map((entry) => entry.count);
  const layout = layoutFleet(fleet);
  const owned = fleet.map(() => 0);
  for (let i = shard.index; i < layout.length; i += shard.count) {
    const entry = layout[i] ?? 0;
    owned[entry] = (owned[entry] ?? 0) + 1;
  }
  return owned;
}
