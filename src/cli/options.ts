import { UsageError } from '../errors.ts';
import { parseDurationMs } from '../profile/duration.ts';
import { parseThreshold } from '../profile/thresholds.ts';
import type { RunOverrides } from '../profile/load.ts';

/** Flags shared by `run` and `validate`, as yargs hands them over. */
export interface RunFlags {
  readonly devices?: number | undefined;
  readonly spawnRate?: number | undefined;
  readonly duration?: string | undefined;
  readonly iterations?: number | undefined;
  readonly seed?: string | number | undefined;
  readonly target?: string | undefined;
  readonly threshold?: readonly (string | number)[] | undefined;
}

function positiveInteger(flag: string, value: number | undefined): number | undefined {
  if (value === undefined) return undefined;
  if (!Number.isInteger(value) || value < 1) throw new UsageError(`--${flag}: expected a whole number of at least 1, got ${String(value)}`);
  return value;
}

/** A scalar flag given twice arrives as an array; as in most CLIs, the last one wins. */
function last<T>(value: T | readonly T[] | undefined): T | undefined {
  return Array.isArray(value) ? (value[value.length - 1] as T | undefined) : (value as T | undefined);
}

/** Turns flags into profile overrides, rejecting malformed values with a message naming the flag. */
export function overridesFromFlags(given: RunFlags): RunOverrides {
  const flags: RunFlags = {
    devices: last(given.devices),
    spawnRate: last(given.spawnRate),
    duration: last(given.duration),
    iterations: last(given.iterations),
    seed: last(given.seed),
    target: last(given.target),
    threshold: given.threshold,
  };
  const overrides: { -readonly [K in keyof RunOverrides]: RunOverrides[K] } = {};
  const devices = positiveInteger('devices', flags.devices);
  if (devices !== undefined) overrides.devices = devices;
  const iterations = positiveInteger('iterations', flags.iterations);
  if (iterations !== undefined) overrides.iterations = iterations;
  if (flags.spawnRate !== undefined) {
    if (!(flags.spawnRate > 0) || !Number.isFinite(flags.spawnRate)) throw new UsageError(`--spawn-rate: expected devices per second above 0, got ${String(flags.spawnRate)}`);
    overrides.spawnRate = flags.spawnRate;
  }
  if (flags.duration !== undefined) {
    const ms = parseDurationMs(String(flags.duration));
    if (ms === undefined || ms <= 0) throw new UsageError(`--duration: '${flags.duration}' is not a duration (e.g. 30s, 5m, 1h)`);
    overrides.durationMs = ms;
  }
  if (flags.seed !== undefined) overrides.seed = String(flags.seed);
  if (flags.target !== undefined) {
    let url: URL;
    try {
      url = new URL(flags.target);
    } catch {
      throw new UsageError(`--target: '${flags.target}' is not a URL (e.g. http://127.0.0.1:8080)`);
    }
    if (url.protocol !== 'http:' && url.protocol !== 'https:') throw new UsageError(`--target: expected an http:// or https:// URL, got '${flags.target}'`);
    overrides.target = flags.target;
  }
  if (flags.threshold !== undefined) {
    const thresholds = flags.threshold.map(String);
    for (const expr of thresholds) {
      try {
        parseThreshold(expr);
      } catch (error) {
        throw new UsageError(`--threshold: ${(error as Error).message}`);
      }
    }
    overrides.thresholds = thresholds;
  }
  return overrides;
}
