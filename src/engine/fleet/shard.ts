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

/** Shard `shard`'s part of a fleet-wide `total`: the fleet's parts add up to it, the first `total mod count` shards taking one more. */
export function partOf(total: number, shard: Shard): number {
  return Math.floor(total / shard.count) + (shard.index < total % shard.count ? 1 : 0);
}

/** A fleet-wide setting and what this shard gets of it, for the plan's shard and its opening lines. */
export interface ShardPart {
  readonly setting: string;
  readonly fleet: number;
  readonly shard: number;
  /** Less than one of it came to this shard: it runs with `shard` (one) anyway, or with none. */
  readonly short: boolean;
}

/**
 * The plan one shard runs: every fleet-wide quantity the engine reads per process divided, so N
 * shards put on the target what one process would. Devices, stages and the spawn rate are already
 * the fleet's (the engine runs its stripe of them); the HTTP pool is per process, so it is divided
 * here: the shards' pools add up to the profile's `http.connections` (at least one each).
 */
export function shardPlan<P extends { readonly devices: number; readonly http: { readonly connections: number; readonly connectionPerDevice: boolean } }>(
  plan: P,
  shard: Shard,
): { readonly plan: P & { readonly shard: Shard }; readonly parts: readonly ShardPart[] } {
  const parts: ShardPart[] = [];
  const devices = ownedBelow(plan.devices, shard);
  parts.push({ setting: 'devices', fleet: plan.devices, shard: devices, short: devices === 0 });
  let http = plan.http;
  if (!plan.http.connectionPerDevice && shard.count > 1) {
    const part = partOf(plan.http.connections, shard);
    parts.push({ setting: 'http.connections', fleet: plan.http.connections, shard: Math.max(1, part), short: part === 0 });
    http = { ...plan.http, connections: Math.max(1, part) };
  }
  return { plan: { ...plan, http, shard }, parts };
}

/** What a shard got less than one of, as a sentence each (empty when it got its share of everything). */
export function describeShortParts(parts: readonly ShardPart[], shard: Shard): string[] {
  return parts
    .filter((part) => part.short)
    .map((part) =>
      part.setting === 'devices'
        ? `shard ${shard.index}/${shard.count} gets none of the fleet's ${part.fleet} devices (fewer devices than shards): it runs nothing`
        : `shard ${shard.index}/${shard.count} gets less than one of the fleet's ${part.fleet} ${part.setting}: it uses 1, so the fleet has ${shard.count} rather than ${part.fleet}`,
    );
}
