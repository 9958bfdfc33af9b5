/** A simulated link as declared: the engine draws each device's jitter and drops from its own seeded stream. */
export interface NetworkLink {
  /** The preset's name, or `custom`. */
  readonly name: string;
  /** Added one-way delay, each way. */
  readonly latencyMs: number;
  /** Each chunk's delay is drawn from latency ± jitter. */
  readonly jitterMs: number;
  readonly uplinkBps: number | undefined;
  readonly downlinkBps: number | undefined;
  /** Drops at a mean interval (seeded, exponential), or at run times (ms from the run's start). */
  readonly drops: { readonly kind: 'rate'; readonly meanIntervalMs: number } | { readonly kind: 'at'; readonly atMs: readonly number[] } | undefined;
}

/** Links by share of a fleet entry's devices; the shares add up to 1. One entry of share 1 is a single link. */
export type NetworkMix = readonly { readonly share: number; readonly link: NetworkLink }[];

export const KBIT = 1000;
export const MBIT = 1_000_000;

/**
 * Named links. Sources (docs/network.md says more): `edge`, `3g` and `lte` are WebPageTest's
 * connectivity profiles (connectivity.ini: Edge 240/200 kbit/s 840 ms RTT, 3G 1.6 Mbit/s / 768
 * kbit/s 300 ms RTT, LTE 12/12 Mbit/s 70 ms RTT); `lte-m` and `nb-iot` take their rates from
 * 3GPP TS 36.306 (Cat-M1 half-duplex: about 300 kbit/s down, 375 kbit/s up; Cat-NB1 single-tone:
 * about 26 kbit/s down, 17 kbit/s up) and their delays from 3GPP TR 45.820 / GSMA's LTE-M and
 * NB-IoT deployment guides (LTE-M round trips of 100–200 ms in the field; NB-IoT's 1.6–10 s);
 * `flaky-wifi` is an illustration, not a measurement: a fast link that drops every 2 minutes.
 */
export const NETWORK_PRESETS: Readonly<Record<string, NetworkLink>> = {
  'nb-iot': { name: 'nb-iot', latencyMs: 800, jitterMs: 300, uplinkBps: 17 * KBIT, downlinkBps: 26 * KBIT, drops: undefined },
  'lte-m': { name: 'lte-m', latencyMs: 75, jitterMs: 25, uplinkBps: 375 * KBIT, downlinkBps: 300 * KBIT, drops: undefined },
  edge: { name: 'edge', latencyMs: 420, jitterMs: 40, uplinkBps: 200 * KBIT, downlinkBps: 240 * KBIT, drops: undefined },
  '3g': { name: '3g', latencyMs: 150, jitterMs: 20, uplinkBps: 768 * KBIT, downlinkBps: 1.6 * MBIT, drops: undefined },
  lte: { name: 'lte', latencyMs: 35, jitterMs: 10, uplinkBps: 12 * MBIT, downlinkBps: 12 * MBIT, drops: undefined },
  'flaky-wifi': { name: 'flaky-wifi', latencyMs: 15, jitterMs: 10, uplinkBps: 20 * MBIT, downlinkBps: 20 * MBIT, drops: { kind: 'rate', meanIntervalMs: 120_000 } },
};
