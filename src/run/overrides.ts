import { UsageError } from '../errors.ts';
import { MAX_DURATION_MS, MAX_DURATION_TEXT, parseDurationMs } from '../profile/duration.ts';
import { parseThreshold } from '../profile/thresholds.ts';
import { MIN_DELIVERED_HELP, parseMinDelivered } from '../profile/min-delivered.ts';
import type { RunOverrides } from '../profile/load.ts';
import type { Shard, Stage } from '../profile/types.ts';
import { checkBrokerUrl, checkTargetUrl } from '../profile/target-url.ts';

/** Flags shared by `run` and `validate`, as yargs hands them over: raw text, so errors can echo it. */
export interface RunFlags {
  readonly devices?: FlagValue;
  readonly spawnRate?: FlagValue;
  readonly duration?: FlagValue;
  readonly iterations?: FlagValue;
  readonly seed?: FlagValue;
  readonly target?: FlagValue;
  readonly broker?: FlagValue;
  readonly threshold?: FlagValue;
  readonly stage?: FlagValue;
  readonly minDelivered?: FlagValue;
}

export type FlagValue = string | number | readonly (string | number)[] | undefined;

export { MAX_DEVICES } from '../profile/limits.ts';
import { MAX_DEVICES } from '../profile/limits.ts';

/** A scalar flag given twice arrives as an array; as in most CLIs, the last one wins. */
export function last(value: FlagValue): string | undefined {
  const one = Array.isArray(value) ? (value as readonly (string | number)[])[value.length - 1] : (value as string | number | undefined);
  return one === undefined ? undefined : String(one);
}

function all(value: FlagValue): string[] | undefined {
  if (value === undefined) return undefined;
  return (Array.isArray(value) ? (value as readonly (string | number)[]) : [value as string | number]).map(String);
}

function wholeNumber(flag: string, text: string | undefined, max: number): number | undefined {
  if (text === undefined) return undefined;
  const value = /^\s*\d+\s*$/.test(text) ? Number(text) : Number.NaN;
  if (!Number.isSafeInteger(value) || value < 1) throw new UsageError(`--${flag}: expected a whole number of at least 1, got '${text}'`);
  if (value > max) throw new UsageError(`--${flag}: at most ${max} in one process, got ${text}`);
  return value;
}

const STAGE = /^([^:]+):([^:]+)$/;

/** One `--stage DURATION:DEVICES` (k6's grammar): `30s:200` ramps to 200 devices over 30 s. */
export function parseStage(text: string): Stage {
  const bad = (problem: string): UsageError => new UsageError(`--stage: '${text}' ${problem}`);
  const match = STAGE.exec(text.trim());
  if (!match) throw bad('is not DURATION:DEVICES (e.g. 30s:200)');
  const durationMs = parseDurationMs(match[1] ?? '');
  if (durationMs === undefined) throw bad(`has no duration before the ':' (e.g. 30s:200, 5m:0)`);
  if (durationMs <= 0) throw bad('lasts no time: a stage needs a duration above 0');
  if (durationMs > MAX_DURATION_MS) throw bad(`is too long: at most ${MAX_DURATION_TEXT}`);
  const countText = (match[2] ?? '').trim();
  const devices = /^\d+$/.test(countText) ? Number(countText) : Number.NaN;
  if (!Number.isSafeInteger(devices)) throw bad(`needs a whole number of devices (0 or more) after the ':'`);
  if (devices > MAX_DEVICES) throw bad(`asks for more than ${MAX_DEVICES} devices in one process`);
  return { durationMs, devices };
}

/** `--stage` sets the whole shape and the end; the one-stage flags would contradict it. */
const SHAPE_FLAGS = [
  ['devices', 'devices'],
  ['spawn-rate', 'spawnRate'],
  ['duration', 'duration'],
  ['iterations', 'iterations'],
] as const;

function stagesFromFlags(flags: RunFlags): Stage[] | undefined {
  const texts = all(flags.stage);
  if (texts === undefined) return undefined;
  const stages = texts.map(parseStage);
  for (const [flag, key] of SHAPE_FLAGS) {
    if (flags[key] !== undefined) throw new UsageError(`--stage: cannot be combined with --${flag}: the stages set the device count and the run's length`);
  }
  const total = stages.reduce((sum, stage) => sum + stage.durationMs, 0);
  if (total > MAX_DURATION_MS) throw new UsageError(`--stage: the stages last longer than ${MAX_DURATION_TEXT}`);
  if (stages.every((stage) => stage.devices === 0)) throw new UsageError('--stage: no stage runs a device: at least one needs devices above 0');
  return stages;
}

/** Turns flags into profile overrides, rejecting malformed values with a message naming the flag. */
export function overridesFromFlags(flags: RunFlags): RunOverrides {
  const overrides: { -readonly [K in keyof RunOverrides]: RunOverrides[K] } = {};
  const devices = wholeNumber('devices', last(flags.devices), MAX_DEVICES);
  if (devices !== undefined) overrides.devices = devices;
  const iterations = wholeNumber('iterations', last(flags.iterations), Number.MAX_SAFE_INTEGER);
  if (iterations !== undefined) overrides.iterations = iterations;
  const spawnRate = last(flags.spawnRate);
  if (spawnRate !== undefined) {
    const value = spawnRate.trim() === '' ? Number.NaN : Number(spawnRate);
    if (!(value > 0) || !Number.isFinite(value)) throw new UsageError(`--spawn-rate: expected devices per second above 0, got '${spawnRate}'`);
    overrides.spawnRate = value;
  }
  const duration = last(flags.duration);
  if (duration !== undefined) {
    const ms = parseDurationMs(duration);
    if (ms === undefined || ms <= 0) throw new UsageError(`--duration: '${duration}' is not a duration above 0 (e.g. 30s, 5m, 1h)`);
    if (ms > MAX_DURATION_MS) throw new UsageError(`--duration: '${duration}' is too long: at most ${MAX_DURATION_TEXT}`);
    overrides.durationMs = ms;
  }
  const seed = last(flags.seed);
  if (seed !== undefined) {
    if (seed.trim() === '') throw new UsageError("--seed: expected a seed (any text or number), got ''");
    overrides.seed = seed;
  }
  const target = last(flags.target);
  if (target !== undefined) overrides.target = checkTargetUrl(target, (problem) => new UsageError(`--target: ${problem}`));
  const broker = last(flags.broker);
  if (broker !== undefined) overrides.broker = checkBrokerUrl(broker, (problem) => new UsageError(`--broker: ${problem}`));
  const thresholds = all(flags.threshold);
  if (thresholds !== undefined) {
    for (const expr of thresholds) {
      try {
        parseThreshold(expr);
      } catch (error) {
        throw new UsageError(`--threshold: ${(error as Error).message}`);
      }
    }
    overrides.thresholds = thresholds;
  }
  const stages = stagesFromFlags(flags);
  if (stages !== undefined) overrides.stages = stages;
  const minDelivered = last(flags.minDelivered);
  if (minDelivered !== undefined) {
    const share = parseMinDelivered(minDelivered);
    if (share === undefined) throw new UsageError(`--min-delivered: expected ${MIN_DELIVERED_HELP}, got '${minDelivered}'`);
    overrides.minDelivered = share;
  }
  return overrides;
}

/** An output file flag: the last one given, and never empty. */
export function outputFile(flag: string, value: FlagValue): string | undefined {
  const file = last(value);
  if (file !== undefined && file.trim() === '') throw new UsageError(`--${flag}: name a file`);
  return file;
}

/** `--shard I/N`: shard I (0-based) of N owns the device indices ≡ I (mod N). */
export function parseShard(value: FlagValue): Shard | undefined {
  const text = last(value);
  if (text === undefined) return undefined;
  const match = /^\s*(\d+)\s*\/\s*(\d+)\s*$/.exec(text);
  const index = Number(match?.[1] ?? Number.NaN);
  const count = Number(match?.[2] ?? Number.NaN);
  if (!match || !Number.isSafeInteger(index) || !Number.isSafeInteger(count)) {
    throw new UsageError(`--shard: expected I/N, shard I (0-based) of N, e.g. 0/3 for the first of three; got '${text}'`);
  }
  if (count < 1 || count > MAX_DEVICES) throw new UsageError(`--shard: N must be 1 to ${MAX_DEVICES} shards, got '${text}'`);
  if (index >= count) throw new UsageError(`--shard: I counts from 0 and must be below N (0/${count} to ${count - 1}/${count}), got '${text}'`);
  return { index, count };
}

/** How far ahead `--start-at` may be: shards are launched together, not scheduled for later. */
export const MAX_START_WAIT_MS = 60 * 60 * 1000;

/** `--start-at TIME`: an ISO 8601 time (with a zone, or UTC with `Z`), at most an hour ahead of `nowMs`. */
export function parseStartAt(value: FlagValue, nowMs: number): number | undefined {
  const text = last(value);
  if (text === undefined) return undefined;
  const iso = /^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}(:\d{2}(\.\d+)?)?(Z|[+-]\d{2}:?\d{2})$/i.test(text.trim());
  const at = iso ? Date.parse(text.trim()) : Number.NaN;
  if (Number.isNaN(at)) throw new UsageError(`--start-at: expected an ISO 8601 time with its zone, e.g. 2026-05-01T12:00:00Z; got '${text}'`);
  if (at - nowMs > MAX_START_WAIT_MS) throw new UsageError(`--start-at: '${text}' is more than an hour away; launch the shards closer to their start`);
  return at;
}

/** `--workers N`: the run's shards in N local worker processes under a coordinator here; 1 (the default) runs in this process. */
export function parseWorkers(value: FlagValue): number | undefined {
  return wholeNumber('workers', last(value), 256);
}
