/**
 * One device's simulated network link, resolved by the engine from the profile: what the shaping
 * layer adds to every byte the device sends and receives. Times are milliseconds; rates bits/s.
 */
export interface LinkConditions {
  /** The preset or definition it came from (`lte-m`), for reports. */
  readonly name: string;
  /** Added one-way delay, each way. */
  readonly latencyMs: number;
  /** Each chunk's delay is drawn uniformly from latency ± jitter (never below 0, never reordering the stream). */
  readonly jitterMs: number;
  /** Device to target; undefined: no cap. */
  readonly uplinkBps: number | undefined;
  /** Target to device; undefined: no cap. */
  readonly downlinkBps: number | undefined;
  /** Connection drops: a mean interval between drops (seeded, exponential), or drop times. */
  readonly drops: DropPlan | undefined;
  /** The device's own seeded stream for jitter and drop times. */
  readonly random: () => number;
  /** Where the link notes what it added to the latest bytes each way, for reports; shared by the device's connections. */
  readonly meter?: LinkMeter | undefined;
}

/** The delay (ms) the link added to the last chunk it carried each way: queueing behind a cap, latency and jitter. */
export interface LinkMeter {
  uplinkMs: number;
  downlinkMs: number;
}

export type DropPlan =
  /** A drop every `meanIntervalMs` on average, per connection, drawn from an exponential distribution. */
  | { readonly kind: 'rate'; readonly meanIntervalMs: number }
  /** Drops at these clock times (`performance.now()` ms): each connection open at one is dropped. */
  | { readonly kind: 'at'; readonly atMs: readonly number[] };

/** The error a simulated drop destroys the connection with; its code is the failure's label. */
export class LinkDropError extends Error {
  readonly code = 'SIMULATED_LINK_DROP';
  constructor() {
    super('connection dropped by the simulated link');
  }
}

/** The round trip a link adds to a request and its answer, without bandwidth or jitter: the mean it declares. */
export function declaredRoundTripMs(link: LinkConditions): number {
  return 2 * link.latencyMs;
}
