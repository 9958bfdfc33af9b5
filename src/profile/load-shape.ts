import { durationAt } from './field-readers.ts';
import type { ProfileDoc } from './profile-schema.ts';
import type { SpawnMode, Stage } from './types.ts';
import type { YamlSource } from './yaml-source.ts';

/** The load-shape values given on the command line; they win over the profile. */
export interface ShapeOverrides {
  readonly devices?: number;
  readonly spawnRate?: number;
  readonly durationMs?: number;
  readonly iterations?: number;
  /** `--stage`: replaces the profile's shape and end. */
  readonly stages?: readonly Stage[];
}

/** How many devices run when, and when the run ends. */
export interface LoadShape {
  /** The fleet's size: the most devices that ever run. */
  readonly devices: number;
  readonly spawnRate: number;
  readonly spawnMode: SpawnMode;
  readonly stages: readonly Stage[] | undefined;
  readonly durationMs: number | undefined;
  readonly iterations: number | undefined;
}

/** Keys that describe the one-stage shape; stages set all of that themselves. */
const ONE_STAGE_KEYS = ['duration', 'iterations', 'spawnRate', 'spawn'] as const;

export function stagesEndMs(stages: readonly Stage[]): number {
  return stages.reduce((sum, stage) => sum + stage.durationMs, 0);
}

/**
 * Resolves the load shape from the profile and the flags: `--stage` replaces the profile's shape;
 * `--devices`, `--spawn-rate`, `--duration` or `--iterations` are the one-stage shorthand and replace
 * profile stages; otherwise the profile's `stages`, or its `fleet` counts, `spawn` and end.
 */
export function loadShape(source: YamlSource, raw: ProfileDoc, overrides: ShapeOverrides, fleetTotal: number): LoadShape {
  const profileStages = raw.stages === undefined ? undefined : readStages(source, raw, raw.stages);
  const spawn = readSpawn(source, raw);
  if (overrides.stages !== undefined) return fromStages(overrides.stages, spawn.rate);
  const shorthand = overrides.devices !== undefined || overrides.spawnRate !== undefined || overrides.durationMs !== undefined || overrides.iterations !== undefined;
  if (profileStages !== undefined && !shorthand) {
    if (profileStages.every((stage) => stage.devices === 0)) throw source.error(['stages'], 'no stage runs a device: at least one needs devices above 0');
    return fromStages(profileStages, spawn.rate);
  }
  const devices = overrides.devices ?? fleetTotal;
  // An end given on the command line replaces the profile's: `--iterations 20` on a 60 s profile
  // runs 20 iterations however long they take, as the flag promises.
  const flagEnds = overrides.durationMs !== undefined || overrides.iterations !== undefined;
  const durationMs = flagEnds ? overrides.durationMs : durationAt(source, ['duration'], raw.duration);
  const iterations = flagEnds ? overrides.iterations : raw.iterations;
  if (durationMs === 0) throw source.error(['duration'], 'must be greater than 0');
  if (durationMs === undefined && iterations === undefined) {
    throw source.error([], "a run needs an end: set 'duration', 'iterations' or 'stages' (or pass --duration / --iterations / --stage)");
  }
  const spawnRate = overrides.spawnRate ?? spawn.rate ?? Math.max(1, devices);
  // A rate on the command line asks for a ramp, whatever mode the profile chose.
  const spawnMode = overrides.spawnRate === undefined ? spawn.mode : 'rate';
  return { devices, spawnRate, spawnMode, stages: undefined, durationMs, iterations };
}

function fromStages(stages: readonly Stage[], rate: number | undefined): LoadShape {
  const devices = Math.max(...stages.map((stage) => stage.devices));
  return { devices, spawnRate: rate ?? Math.max(1, devices), spawnMode: 'rate', stages, durationMs: stagesEndMs(stages), iterations: undefined };
}

function readStages(source: YamlSource, raw: ProfileDoc, stages: NonNullable<ProfileDoc['stages']>): Stage[] {
  for (const key of ONE_STAGE_KEYS) {
    if (raw[key] !== undefined) throw source.error([key], `'stages' set the load shape and the run's length; remove '${key}' (or 'stages')`, { atKey: true });
  }
  return stages.map((stage, i) => {
    const durationMs = durationAt(source, ['stages', i, 'duration'], stage.duration, 0);
    if (durationMs <= 0) throw source.error(['stages', i, 'duration'], 'must be greater than 0');
    return { durationMs, devices: stage.devices };
  });
}

function readSpawn(source: YamlSource, raw: ProfileDoc): { rate: number | undefined; mode: SpawnMode } {
  const spawn = raw.spawn;
  if (spawn === undefined) return { rate: raw.spawnRate, mode: 'rate' };
  if (raw.spawnRate !== undefined) throw source.error(['spawnRate'], "set the rate in one place: 'spawnRate' is the shorthand for 'spawn.rate'", { atKey: true });
  const mode = spawn.mode ?? 'rate';
  if (mode === 'all-at-once' && spawn.rate !== undefined) throw source.error(['spawn', 'rate'], "has no meaning with mode 'all-at-once' (every device starts in the same tick)");
  return { rate: spawn.rate, mode };
}
