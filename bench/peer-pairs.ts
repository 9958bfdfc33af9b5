import { runFleetsim } from './run-pinned.ts';
import type { Measured } from './run-pinned.ts';

/** How far ahead both sides of a pair are told to start: enough for either to load. */
const START_LEAD_MS = 4000;

/** A peer that can start its load at a given instant (epoch ms). */
export interface PairedPeer {
  readonly label: string;
  run(startAtMs: number): Promise<Measured | undefined>;
}

const median = (values: readonly number[]): number => {
  const sorted = [...values].sort((a, b) => a - b);
  return ((sorted[(sorted.length - 1) >> 1] ?? 0) + (sorted[sorted.length >> 1] ?? 0)) / 2;
};
const spread = (values: readonly number[]): string => `${Math.min(...values).toFixed(2)}–${Math.max(...values).toFixed(2)}`;

/**
 * fleetsim beside each peer on the generator's core, both started at one instant: while both are
 * busy, the kernel gives each half of the core, so the ratio of their rates is the ratio of their
 * costs per request, and a slow minute on a shared machine slows both alike (run one after the
 * other, the same pair swings by ±50% here). `fleetArgs` are `fleetsim run`'s, without `--start-at`.
 */
export async function besidePeers(dir: string, rounds: number, label: string, fleetArgs: readonly string[], peers: readonly PairedPeer[]): Promise<string> {
  const lines = [`${label} beside each peer, side by side on the generator's core (${rounds} rounds; ratio of rates, median and range):`];
  for (const peer of peers) {
    const ratios: number[] = [];
    const fleetRates: number[] = [];
    const peerRates: number[] = [];
    const busy: number[] = [];
    for (let round = 0; round < rounds; round++) {
      const startAt = Date.now() + START_LEAD_MS;
      const [results, measured] = await Promise.all([runFleetsim(dir, `pair-${round}`, [...fleetArgs, '--start-at', new Date(startAt).toISOString()]), peer.run(startAt)]);
      if (!measured) break;
      if (results.total.failures > 0) throw new Error(`fleetsim had failures beside ${peer.label}: ${JSON.stringify(results.failures)}`);
      const fleetRate = results.total.requests / results.activeS;
      const peerRate = measured.messages / measured.seconds;
      fleetRates.push(fleetRate);
      peerRates.push(peerRate);
      ratios.push(fleetRate / peerRate);
      busy.push((results.generator.processCpuPercent ?? results.generator.cpuPercent) + (measured.cpuSeconds / measured.seconds) * 100);
    }
    if (ratios.length === 0) {
      lines.push(`  ${peer.label}: not installed, left out`);
      continue;
    }
    lines.push(
      `  ÷ ${peer.label}: ${median(ratios).toFixed(2)} (${spread(ratios)}); fleetsim ~${median(fleetRates).toFixed(0)} req/s, the peer ~${median(peerRates).toFixed(0)} req/s on half the core; the core ${median(busy).toFixed(0)}% busy with both`,
    );
  }
  return lines.join('\n');
}
