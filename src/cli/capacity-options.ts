import type { StepPlan } from '../capacity/steps.ts';
import { UsageError } from '../errors.ts';
import { parseDurationMs } from '../profile/duration.ts';
import { parseThreshold } from '../profile/thresholds.ts';
import { last, MAX_DEVICES } from '../run/overrides.ts';
import type { FlagValue } from '../run/overrides.ts';

/** `fleetsim capacity` flags as yargs hands them over: raw text, so errors can echo it. */
export interface CapacityFlags {
  readonly slo?: FlagValue;
  readonly start?: FlagValue;
  readonly step?: FlagValue;
  readonly factor?: FlagValue;
  readonly stepDuration?: FlagValue;
  readonly settle?: FlagValue;
  readonly maxDevices?: FlagValue;
  readonly refine?: boolean | undefined;
  readonly repeat?: FlagValue;
}

export interface CapacitySettings {
  readonly slos: readonly string[];
  /** The step plan without its ceiling when `--max-devices` is not given (the profile's fleet size then). */
  readonly start: number;
  readonly step: number | undefined;
  readonly factor: number | undefined;
  readonly maxDevices: number | undefined;
  readonly stepMs: number;
  readonly settleMs: number;
  readonly refine: boolean;
  /** Extra measurements of each step beside the knee (`--repeat`). */
  readonly repeat: number;
}

const DEFAULTS = { start: 10, stepMs: 10_000, settleMs: 3000 } as const;

function texts(value: FlagValue): string[] {
  if (value === undefined) return [];
  return (Array.isArray(value) ? (value as readonly (string | number)[]) : [value as string | number]).map(String);
}

function wholeNumber(flag: string, value: FlagValue): number | undefined {
  const text = last(value);
  if (text === undefined) return undefined;
  const number = /^\s*\d+\s*$/.test(text) ? Number(text) : Number.NaN;
  if (!Number.isSafeInteger(number) || number < 1) throw new UsageError(`--${flag}: expected a whole number of at least 1, got '${text}'`);
  if (number > MAX_DEVICES) throw new UsageError(`--${flag}: at most ${MAX_DEVICES} devices in one process, got ${text}`);
  return number;
}

function duration(flag: string, value: FlagValue, fallback: number, minimumMs: number): number {
  const text = last(value);
  if (text === undefined) return fallback;
  const ms = parseDurationMs(text);
  if (ms === undefined || ms < minimumMs) throw new UsageError(`--${flag}: '${text}' is not a duration of at least ${minimumMs / 1000}s (e.g. 10s, 1m)`);
  if (ms % 1000 !== 0) throw new UsageError(`--${flag}: '${text}' must be whole seconds: steps are judged on whole 1 s intervals`);
  return ms;
}

/** Checks every capacity flag before anything runs; a bad one is a usage error naming the flag. */
export function capacitySettings(flags: CapacityFlags): CapacitySettings {
  const slos = texts(flags.slo);
  if (slos.length === 0) throw new UsageError("--slo: name at least one SLO to search against, e.g. --slo 'p95 < 250ms' --slo 'failures < 1%'");
  for (const slo of slos) {
    try {
      parseThreshold(slo);
    } catch (error) {
      throw new UsageError(`--slo: ${(error as Error).message}`);
    }
  }
  const start = wholeNumber('start', flags.start) ?? DEFAULTS.start;
  const step = wholeNumber('step', flags.step);
  const factorText = last(flags.factor);
  let factor: number | undefined;
  if (factorText !== undefined) {
    factor = factorText.trim() === '' ? Number.NaN : Number(factorText);
    if (!(factor > 1) || !Number.isFinite(factor)) throw new UsageError(`--factor: expected a number above 1 (e.g. 1.5 for +50% per step), got '${factorText}'`);
    if (step !== undefined) throw new UsageError('--factor: give either --step (a fixed count) or --factor (geometric), not both');
  }
  const maxDevices = wholeNumber('max-devices', flags.maxDevices);
  if (maxDevices !== undefined && maxDevices < start) throw new UsageError(`--max-devices: ${maxDevices} is below --start ${start}`);
  return {
    slos,
    start,
    step,
    factor,
    maxDevices,
    stepMs: duration('step-duration', flags.stepDuration, DEFAULTS.stepMs, 1000),
    settleMs: duration('settle', flags.settle, DEFAULTS.settleMs, 0),
    refine: flags.refine === true,
    repeat: repeatCount(flags.repeat),
  };
}

/** `--repeat N`: 1 to 10 extra measurements of the knee's two steps. */
function repeatCount(value: FlagValue): number {
  const text = last(value);
  if (text === undefined) return 0;
  const count = /^\s*\d+\s*$/.test(text) ? Number(text) : Number.NaN;
  if (!Number.isSafeInteger(count) || count < 1 || count > 10) throw new UsageError(`--repeat: expected how many times to measure the knee's steps again, 1 to 10, got '${text}'`);
  return count;
}

/** The steps to try, once the ceiling is known. */
export function stepPlan(settings: CapacitySettings, maxDevices: number): StepPlan {
  return {
    start: Math.min(settings.start, maxDevices),
    maxDevices,
    ...(settings.factor !== undefined ? { factor: settings.factor } : { step: settings.step ?? settings.start }),
  };
}
