/**
 * A shard of a run: shard `index` of `count` owns the global device indices ≡ index (mod count).
 * Striping (rather than blocks) keeps every prefix of the fleet, and so every stage's device count,
 * spread over the shards and over the fleet's device types; identity and RNG stay those of the
 * global index, so the shards together send exactly what one process would have sent.
 */
import type { Shard } from '../../profile/types.ts';

export type { Shard } from '../../profile/types.ts';

export const WHOLE_RUN: Shard = Object.freeze({ index: 0, count: 1 });

/** How many of the global indices below `total` the shard owns. */
export function ownedBelow(total: number, shard: Shard): number {
  return total > shard.index ? Math.floor((total - 1 - shard.index) / shard.count) + 1 : 0;
}

/** The global index of the shard's `local`-th device. */
export function globalIndex(local: number, shard: Shard): number {
  return shard.index + local * shard.count;
}

/** The position of a global index the shard owns among the shard's own devices. */
export function localIndex(global: number, shard: Shard): number {
  return (global - shard.index) / shard.count;
}
