import type { BrokerStats, KeepaliveStats, LifecycleSummary, Results } from '../metrics/results.ts';

/** What these merges need of a shard's results. */
type ShardPart = Pick<Results, 'shard' | 'startedAt' | 'endedAt' | 'broker' | 'lifecycle' | 'keepalive'>;

/**
 * Device lifecycles summed over the shards: each counts its own devices' sleeps, wakes, reboots and
 * offline windows, and its own part of what the fleet events planned, so the sums are the fleet's.
 */
export function mergeLifecycles(shards: readonly ShardPart[]): LifecycleSummary | undefined {
  const parts = shards.flatMap((shard) => (shard.lifecycle ? [shard.lifecycle] : []));
  if (parts.length === 0) return undefined;
  const sum = (pick: (part: LifecycleSummary) => number): number => parts.reduce((total, part) => total + pick(part), 0);
  return {
    sleeps: sum((part) => part.sleeps),
    wakes: sum((part) => part.wakes),
    reboots: sum((part) => part.reboots),
    offline: sum((part) => part.offline),
    queuedWhileOffline: sum((part) => part.queuedWhileOffline),
    planned: { reboots: sum((part) => part.planned.reboots), offline: sum((part) => part.planned.offline) },
  };
}

/**
 * The broker's `$SYS` figures for the merged run. Each shard with `--broker-stats` watched the whole
 * broker, so their counts are observations of one thing, never summed: the merge keeps one, that
 * of the shard whose run covered the most of the fleet's window (the lowest index on a tie), and
 * says so in its `notes`.
 */
export function oneBrokerObservation(shards: readonly ShardPart[], fleetStartMs: number, fleetEndMs: number): BrokerStats | undefined {
  const fleetMs = Math.max(fleetEndMs - fleetStartMs, 1);
  const covered = (shard: ShardPart): number => Math.max(0, Math.min(Date.parse(shard.endedAt), fleetEndMs) - Math.max(Date.parse(shard.startedAt), fleetStartMs));
  let chosen: (ShardPart & { broker: BrokerStats }) | undefined;
  for (const shard of shards) {
    if (!shard.broker) continue;
    if (!chosen || covered(shard) > covered(chosen) || (covered(shard) === covered(chosen) && shard.shard.index < chosen.shard.index)) chosen = { ...shard, broker: shard.broker };
  }
  if (!chosen) return undefined;
  const share = Math.min(100, Math.round((covered(chosen) / fleetMs) * 1000) / 10);
  const { index, count } = chosen.shard;
  const observers = shards.filter((shard) => shard.broker).length;
  const note = [
    `merge: shard ${index}/${count}'s observation, the one whose run covered the most of the fleet's (${share}%); not a sum over shards: each shard's probe watched the whole broker`,
    ...(share < 100 ? ['what the broker counted outside that window is not in these figures'] : []),
    ...(observers > 1 ? [`clients connected include the probes of the ${observers} shards that took broker stats, while they ran`] : []),
  ].join('; ');
  return { ...chosen.broker, notes: [...(chosen.broker.notes ?? []), note] };
}

/**
 * The shards' keepalive paths: checks and PINGREQs summed; the lateness percentiles and max are the
 * worst shard's (each process has its own loop and wheel, and the counts behind them are not kept).
 */
export function mergeKeepalive(shards: readonly ShardPart[]): KeepaliveStats | undefined {
  const parts = shards.flatMap((shard) => (shard.keepalive ? [shard.keepalive] : []));
  if (parts.length === 0) return undefined;
  const worst = (pick: (part: KeepaliveStats) => number): number => Math.max(...parts.map(pick));
  return {
    checks: parts.reduce((sum, part) => sum + part.checks, 0),
    pingsSent: parts.reduce((sum, part) => sum + part.pingsSent, 0),
    lateP50Ms: worst((part) => part.lateP50Ms),
    lateP99Ms: worst((part) => part.lateP99Ms),
    lateMaxMs: worst((part) => part.lateMaxMs),
  };
}
