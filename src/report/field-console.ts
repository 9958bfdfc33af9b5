import type { Results } from '../metrics/results.ts';

/**
 * The summary's lines on the field: what each row's simulated network link added to its latency,
 * and the devices' sleeps, wakes, reboots and offline windows against the plan.
 */
export function lifecycleAndLinkLines(results: Results): string[] {
  const out: string[] = [];
  const linked = results.stats.filter((row) => row.linkSamples !== undefined && row.linkSamples > 0);
  if (linked.length > 0) {
    out.push('', 'Simulated network links (part of the latency above):');
    for (const row of linked) {
      const mean = row.latencyMs.mean;
      const added = row.linkMeanMs ?? 0;
      const share = mean !== null && mean > 0 ? ` (${Math.round((100 * Math.min(added, mean)) / mean)}%)` : '';
      out.push(`  ${row.type} ${row.name}: the link added ${added.toFixed(1)} ms of ${mean === null ? '-' : mean.toFixed(1)} ms mean latency${share}`);
    }
  }
  const lifecycle = results.lifecycle;
  if (lifecycle) {
    const planned = lifecycle.planned;
    const waves = planned.reboots > 0 || planned.offline > 0 ? ` Fleet events planned ${planned.reboots} reboots and ${planned.offline} devices offline.` : '';
    const queued = lifecycle.queuedWhileOffline > 0 ? `, ${lifecycle.queuedWhileOffline} messages queued while devices were off the network` : '';
    out.push('', `Lifecycle: ${lifecycle.sleeps} sleeps, ${lifecycle.wakes} wakes, ${lifecycle.reboots} reboots, ${lifecycle.offline} devices taken offline${queued}.${waves}`);
  }
  return out;
}
