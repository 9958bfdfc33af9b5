import seedrandom from 'seedrandom';

/** A uniform source in [0, 1). */
export type Random = () => number;

/** Alea's state (as seedrandom keeps it): three fractions and a carry, stepped in place. */
class AleaState {
  constructor(
    public s0: number,
    public s1: number,
    public s2: number,
    public c: number,
  ) {}
}

/**
 * Each device draws from its own stream derived from (seed, device index) only, so what a device
 * does never depends on timing, start order, or which shard runs it.
 *
 * seedrandom's Alea, seeded by seedrandom and stepped here: the library's generator carries two
 * more closures, a property table and two contexts, ~430 bytes a device, for ~180 here. The step is
 * seedrandom's own, operation for operation, so the draws are its draws (rng.test.ts checks).
 */
export function deviceRandom(seed: string, deviceIndex: number): Random {
  const { s0, s1, s2, c } = seedrandom.alea(`fleetsim:${seed}:${deviceIndex}`, { state: true }).state();
  const state = new AleaState(s0, s1, s2, c);
  return () => {
    const t = 2091639 * state.s0 + state.c * 2.3283064365386963e-10; // 2^-32
    state.s0 = state.s1;
    state.s1 = state.s2;
    return (state.s2 = t - (state.c = t | 0));
  };
}

/**
 * The device's streams besides its task stream: each purpose draws from its own, so reconnect
 * jitter or a downlink reaction never shifts what the device's tasks send. Changing a derivation
 * changes every seeded run; test/unit/identity/rng.test.ts pins their first draws.
 */
export function reconnectRandom(seed: string, deviceIndex: number): Random {
  return deviceRandom(`${seed}:reconnect`, deviceIndex);
}

export function reactionRandom(seed: string, deviceIndex: number): Random {
  return deviceRandom(`${seed}:reactions`, deviceIndex);
}

/** Inclusive integer in [min, max]. */
export function randomInt(random: Random, min: number, max: number): number {
  return min + Math.floor(random() * (max - min + 1));
}

/** Picks an index with probability proportional to its weight; `cumulative` is the running sum of weights. */
export function weightedIndex(random: Random, cumulative: Float64Array): number {
  const total = cumulative[cumulative.length - 1] ?? 0;
  const point = random() * total;
  let lo = 0;
  let hi = cumulative.length - 1;
  while (lo < hi) {
    const mid = (lo + hi) >>> 1;
    if (point < (cumulative[mid] ?? 0)) hi = mid;
    else lo = mid + 1;
  }
  return lo;
}

export function cumulativeWeights(weights: readonly number[]): Float64Array {
  const cumulative = new Float64Array(weights.length);
  let sum = 0;
  weights.forEach((weight, i) => {
    sum += weight;
    cumulative[i] = sum;
  });
  return cumulative;
}

/** A device's simulated network link: its jitter and drop times. */
export function linkRandom(seed: string, deviceIndex: number): Random {
  return deviceRandom(`${seed}:link`, deviceIndex);
}

/** A device's lifecycle: its sleep and wake periods and reboot times. */
export function lifecycleRandom(seed: string, deviceIndex: number): Random {
  return deviceRandom(`${seed}:lifecycle`, deviceIndex);
}
