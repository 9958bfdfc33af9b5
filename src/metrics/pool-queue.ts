import type { StatsRow } from './results.ts';

/** A wait for a pool connection this long at the 99th percentile means fleetsim's own queue shaped the run. */
export const POOL_QUEUE_WARN_P99_MS = 50;

const duration = (ms: number): string => (ms >= 1000 ? `${(ms / 1000).toFixed(1)} s` : `${Math.round(ms)} ms`);

/**
 * Names the generator's own queue when requests waited for one of the shared pool's connections:
 * that wait is fleetsim's, never the target's, and the user can remove it.
 */
export function poolQueueWarning(types: readonly StatsRow[], connections: number): string | undefined {
  const queued = types.find((row) => row.type === 'HTTP')?.queuedMs;
  if (!queued || queued.p99 === null || queued.max === null || queued.p99 < POOL_QUEUE_WARN_P99_MS) return undefined;
  return (
    `requests waited up to ${duration(queued.max)} (p99 ${duration(queued.p99)}) for one of ${connections} connections: raise http.connections or use connectionPerDevice. ` +
    `That wait is fleetsim's own queue, not the target's time: it is kept out of the latency and reported as queuedMs.`
  );
}
