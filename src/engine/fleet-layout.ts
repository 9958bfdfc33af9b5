import { compileIdentity } from '../identity/device-id.ts';
import type { FleetEntry, Shard } from '../profile/types.ts';

/**
 * Which fleet entry each device index belongs to, interleaved by smooth weighted round robin so a
 * partial spawn (or a shard) gets the fleet's mix rather than all of one model first. Devices that
 * only listen (no tasks: backend consumers) take the first indices, so they start, and subscribe,
 * before the devices whose messages they receive.
 */
export function layoutFleet(fleet: readonly FleetEntry[]): Uint16Array {
  const listens = fleet.map((entry) => entry.model.tasks.length === 0);
  if (!listens.some(Boolean) || listens.every(Boolean)) return interleave(fleet);
  const first = fleet.flatMap((entry, index) => (listens[index] ? [index] : []));
  const rest = fleet.flatMap((entry, index) => (listens[index] ? [] : [index]));
  const head = interleave(first.map((index) => fleet[index] as FleetEntry));
  const tail = interleave(rest.map((index) => fleet[index] as FleetEntry));
  const layout = new Uint16Array(head.length + tail.length);
  head.forEach((entry, i) => (layout[i] = first[entry] ?? 0));
  tail.forEach((entry, i) => (layout[head.length + i] = rest[entry] ?? 0));
  return layout;
}

function interleave(fleet: readonly Pick<FleetEntry, 'count'>[]): Uint16Array {
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

/** Each device's place within its own fleet entry: row i of an entry's data file is its device i. */
export function entryOrdinals(layout: Uint16Array, entries: number): Uint32Array {
  const ordinals = new Uint32Array(layout.length);
  const next = new Uint32Array(Math.max(1, entries));
  for (let i = 0; i < layout.length; i++) {
    const entry = layout[i] ?? 0;
    ordinals[i] = next[entry] ?? 0;
    next[entry] = (next[entry] ?? 0) + 1;
  }
  return ordinals;
}

const NO_DATA: readonly string[] = Object.freeze([]);

/** The values a device's templates read from its data row, by the model's data slot. */
export function dataRow(entry: FleetEntry, ordinal: number): readonly string[] {
  const data = entry.data;
  if (!data || data.columnOfSlot.length === 0) return NO_DATA;
  return data.columnOfSlot.map((column) => data.table.value(ordinal, column));
}

/** Per fleet entry, the function naming a device from its global index (and, for the data scheme, its row). */
export function fleetIdFunctions(fleet: readonly FleetEntry[], ordinals: Uint32Array, seed: string): ((index: number) => string)[] {
  return fleet.map((entry) => {
    const data = entry.data;
    const column = data?.idColumn;
    const fromData = data && column !== undefined ? (index: number): string => data.table.value(ordinals[index] ?? 0, column) : undefined;
    return compileIdentity(entry.model.identity, seed, fromData);
  });
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
