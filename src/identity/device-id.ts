import { createHash } from 'node:crypto';

/** How a device model names its devices. Every scheme is injective in the device index, so ids are unique by construction. */
export type IdentityScheme =
  | { readonly scheme: 'hex48'; readonly prefix: string }
  | { readonly scheme: 'sequential-hex'; readonly base: bigint; readonly width: number; readonly prefix: string }
  | { readonly scheme: 'pattern'; readonly pattern: string }
  /** Ids from a column of the fleet entry's data file: the registry's own ids. */
  | { readonly scheme: 'data'; readonly column: string };

const HALF_BITS = 24;
const HALF_MASK = 0xffffff;
const FEISTEL_ROUNDS = 4;
export const MAX_DEVICE_INDEX = 2 ** 48 - 1;

/** Round keys derived from the seed, so a different seed gives a different (still bijective) id mapping. */
export function feistelKeys(seed: string): Uint32Array {
  const digest = createHash('sha256').update(`fleetsim.identity:${seed}`).digest();
  const keys = new Uint32Array(FEISTEL_ROUNDS);
  for (let i = 0; i < FEISTEL_ROUNDS; i++) keys[i] = digest.readUInt32LE(i * 4);
  return keys;
}

function roundFunction(half: number, key: number): number {
  let x = Math.imul(half ^ key, 0x9e3779b1);
  x ^= x >>> 15;
  x = Math.imul(x, 0x85ebca6b);
  x ^= x >>> 13;
  return x & HALF_MASK;
}

/** A seeded permutation of [0, 2^48): a balanced Feistel network over two 24-bit halves is a bijection whatever the round function. */
export function permute48(index: number, keys: Uint32Array): number {
  let left = Math.floor(index / 2 ** HALF_BITS) & HALF_MASK;
  let right = index & HALF_MASK;
  for (const key of keys) {
    const next = left ^ roundFunction(right, key);
    left = right;
    right = next;
  }
  return left * 2 ** HALF_BITS + right;
}

export function hex48(index: number, keys: Uint32Array): string {
  return permute48(index, keys).toString(16).padStart(12, '0');
}

const PATTERN_FIELD = /\{index(?::(\d+))?\}/g;

export function patternHasIndex(pattern: string): boolean {
  return /\{index(?::\d+)?\}/.test(pattern);
}

/**
 * Builds the id function for a scheme once; the returned function is called once per device. The
 * data scheme reads the id through `fromData` (the device's row of its data file).
 */
export function compileIdentity(identity: IdentityScheme, seed: string, fromData?: (index: number) => string): (index: number) => string {
  switch (identity.scheme) {
    case 'data':
      if (!fromData) throw new Error(`identity from data column '${identity.column}' needs a data file`);
      return fromData;
    case 'hex48': {
      const keys = feistelKeys(seed);
      const prefix = identity.prefix;
      return (index) => prefix + hex48(index, keys);
    }
    case 'sequential-hex': {
      const { base, width, prefix } = identity;
      return (index) => prefix + (base + BigInt(index)).toString(16).padStart(width, '0');
    }
    case 'pattern': {
      const pattern = identity.pattern;
      return (index) => pattern.replace(PATTERN_FIELD, (_match, width: string | undefined) => (width === undefined ? String(index) : String(index).padStart(Number(width), '0')));
    }
  }
}
