import { UsageError } from '../errors.ts';
import { formatDuration, MAX_DURATION_MS } from '../profile/duration.ts';
import type { RunOverrides } from '../profile/load.ts';
import type { RunPlan, Stage } from '../profile/types.ts';
import { MAX_DEVICES, overridesFromFlags } from '../run/overrides.ts';
import type { StartSettings } from './live-run.ts';

/** The start form's fields as text, as the page shows them and the API takes them. */
export interface StartForm {
  readonly devices: string;
  readonly spawnRate: string;
  readonly maxDevices: string;
  /** Empty: until stopped. */
  readonly duration: string;
  /** `30s:10, 1m:50`; empty: one ramp to `devices`. */
  readonly stages: string;
  /** Empty: the profile's, or the embedded fixture. */
  readonly target: string;
  readonly broker: string;
}

const FIELDS = ['devices', 'spawnRate', 'maxDevices', 'duration', 'stages', 'target', 'broker'] as const;

/** The form as the plan loaded from the profile and the command line fills it; `maxDevices` defaults to the plan's fleet. */
export function formDefaults(plan: RunPlan, maxDevices = plan.devices): StartForm {
  const stages = plan.stages?.map((stage) => `${formatDuration(stage.durationMs)}:${stage.devices}`).join(', ') ?? '';
  return {
    devices: String(plan.devices),
    spawnRate: String(plan.spawnRate),
    maxDevices: String(Math.max(maxDevices, plan.devices)),
    duration: plan.stages || plan.durationMs === undefined || plan.durationMs >= MAX_DURATION_MS ? '' : formatDuration(plan.durationMs),
    stages,
    target: plan.target ?? '',
    broker: plan.broker ?? '',
  };
}

function text(body: Record<string, unknown>, key: string): string | undefined {
  const value = body[key];
  if (value === undefined || value === null) return undefined;
  if (Array.isArray(value)) return value.map(String).join(', ');
  if (typeof value !== 'string' && typeof value !== 'number') throw new UsageError(`${key}: expected text or a number`);
  return String(value).trim();
}

/**
 * A start request's body over the defaults. A request that names devices or a spawn rate and no
 * stages means one ramp, even when the profile has stages.
 */
export function mergeForm(defaults: StartForm, body: unknown): StartForm {
  if (body === null || typeof body !== 'object' || Array.isArray(body)) throw new UsageError('expected a JSON object, e.g. {"devices": 10, "spawnRate": 5}');
  const given = body as Record<string, unknown>;
  const unknown = Object.keys(given).filter((key) => !(FIELDS as readonly string[]).includes(key));
  if (unknown.length > 0) throw new UsageError(`unknown field${unknown.length === 1 ? '' : 's'} ${unknown.join(', ')} (fields: ${FIELDS.join(', ')})`);
  const oneRamp = given.stages === undefined && (given.devices !== undefined || given.spawnRate !== undefined);
  const merged: Record<string, string> = {};
  for (const key of FIELDS) merged[key] = text(given, key) ?? (key === 'stages' && oneRamp ? '' : defaults[key]);
  return merged as unknown as StartForm;
}

/** Flag errors name the flag (`--devices: …`); here they name the form's field. */
function fieldError(error: unknown): never {
  if (error instanceof UsageError)
    throw new UsageError(
      error.message
        .replace(/^--spawn-rate:/, 'spawnRate:')
        .replace(/^--stage:/, 'stages:')
        .replace(/^--([a-z]+):/, '$1:'),
    );
  throw error;
}

/** The settings a form asks for, and the overrides that load the run's plan (its fleet sized to the ceiling). */
export function settingsOf(form: StartForm): { settings: StartSettings; overrides: RunOverrides } {
  const stageTexts = form.stages === '' ? undefined : form.stages.split(/[,\s]+/).filter(Boolean);
  let parsed: RunOverrides;
  try {
    const common = overridesFromFlags({ spawnRate: form.spawnRate || undefined, target: form.target || undefined, broker: form.broker || undefined });
    // Stages set the count and the length; the spawn rate still paces a raise while running.
    parsed = { ...common, ...(stageTexts ? overridesFromFlags({ stage: stageTexts }) : overridesFromFlags({ devices: form.devices, duration: form.duration || undefined })) };
  } catch (error) {
    fieldError(error);
  }
  const stages: readonly Stage[] | undefined = parsed.stages;
  const devices = stages ? Math.max(...stages.map((stage) => stage.devices)) : (parsed.devices ?? 1);
  const maxText = form.maxDevices === '' ? String(devices) : form.maxDevices;
  const maxDevices = /^\d+$/.test(maxText) ? Number(maxText) : Number.NaN;
  if (!Number.isSafeInteger(maxDevices) || maxDevices < 1 || maxDevices > MAX_DEVICES) throw new UsageError(`maxDevices: expected a whole number from 1 to ${MAX_DEVICES}, got '${form.maxDevices}'`);
  if (maxDevices < devices) throw new UsageError(`maxDevices: ${maxDevices} is below the ${devices} devices asked for`);
  const durationMs = stages ? stages.reduce((sum, stage) => sum + stage.durationMs, 0) : parsed.durationMs;
  const settings: StartSettings = {
    devices,
    spawnRate: parsed.spawnRate ?? Math.max(1, devices),
    maxDevices,
    durationMs,
    stages,
    target: parsed.target,
    broker: parsed.broker,
  };
  const overrides: RunOverrides = {
    devices: maxDevices,
    spawnRate: settings.spawnRate,
    // No duration runs until stopped, as Locust's UI does; the longest a timer can wait bounds it.
    durationMs: durationMs ?? MAX_DURATION_MS,
    ...(parsed.target === undefined ? {} : { target: parsed.target }),
    ...(parsed.broker === undefined ? {} : { broker: parsed.broker }),
  };
  return { settings, overrides };
}
