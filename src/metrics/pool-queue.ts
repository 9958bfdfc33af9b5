import type { StatsRow } from './results.ts';

/** A wait for a pool connection this long at the 99th percentile means fleetsim's own queue shaped the run. */
export const POOL_QUEUE_WARN_P99_MS = 50;

const duration = (ms: number): string => (ms >= 1000 ? `${(ms / 1000).toFixed(1)} s` : `${Math.round(ms)} ms`);

/**
 * Names the generator's own queue when requests waited before the HTTP client sent them: for one of the shared
 * pool's connections when the fleet outnumbers them, else for connection set-up and fleetsim's own
 * busy event loop. Either way the wait is fleetsim's, never the target's.
 */
export function poolQueueWarning(types: readonly StatsRow[], connections: number, httpDevices: number): string | undefined {
  const queued = types.find((row) => row.type === 'HTTP')?.queuedMs;
  if (!queued || queued.p99 === null || queued.max === null || queued.p99 < POOL_QUEUE_WARN_P99_MS) return undefined;
  const waited = `requests waited up to ${duration(queued.max)} (p99 ${duration(queued.p99)})`;
  const kept = "That wait is fleetsim's own, not the target's time: it is kept out of the latency and reported as queuedMs.";
  if (httpDevices > connections) return `${waited} for one of ${connections} connections: raise http.connections or use connectionPerDevice. ${kept}`;
  return `${waited} before the HTTP client sent them, though the pool's ${connections} connections outnumber the ${httpDevices} devices: connection set-up and fleetsim's busy event loop. ${kept}`;
}
