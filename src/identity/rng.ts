import seedrandom from 'seedrandom';

/** A uniform source in [0, 1). */
export type Random = () => number;

/**
 * Each device draws from its own stream derived from (seed, device index) only, so what a device
 * does never depends on timing, start order, or which shard runs it.
 */
export function deviceRandom(seed: string, deviceIndex: number): Random {
  return seedrandom.alea(`fleetsim:${seed}:${deviceIndex}`);
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
