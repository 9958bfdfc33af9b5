import { createHash } from 'node:crypto';
import { readFile } from 'node:fs/promises';
import path from 'node:path';
import { ProfileError } from '../errors.ts';
import { patternHasIndex } from '../identity/device-id.ts';
import type { IdentityScheme } from '../identity/device-id.ts';
import { cumulativeWeights } from '../identity/rng.ts';
import { compileJsonBody, compileTemplate, TemplateError } from '../template/compile.ts';
import type { CompiledTemplate } from '../template/compile.ts';
import type { SlotAllocator } from '../template/functions.ts';
import { MAX_DURATION_MS, MAX_DURATION_TEXT, parseDurationMs } from './duration.ts';
import { deviceModelSchema, profileSchema, validateAgainst } from './schema.ts';
import type { JsonSchema } from './schema.ts';
import { parseThreshold } from './thresholds.ts';
import { checkTargetUrl } from './target-url.ts';
import type { DeviceModel, FleetEntry, HttpAction, RunPlan, TaskSpec, WaitModel } from './types.ts';
import { YamlSource } from './yaml-source.ts';
import type { FieldPath } from './yaml-source.ts';

/** Values given on the command line; they win over the profile. */
export interface RunOverrides {
  readonly devices?: number;
  readonly spawnRate?: number;
  readonly durationMs?: number;
  readonly iterations?: number;
  readonly seed?: string;
  readonly target?: string;
  readonly thresholds?: readonly string[];
}

type Json = Record<string, unknown>;

const DEFAULT_TIMEOUT_MS = 10_000;

function checkSchema(source: YamlSource, schema: JsonSchema): Json {
  const violation = validateAgainst(schema, source.data);
  if (violation) throw source.error(violation.path, violation.message, { atKey: violation.atKey ?? false });
  return source.data as Json;
}

function durationAt(source: YamlSource, fieldPath: FieldPath, value: unknown, fallback: number): number;
function durationAt(source: YamlSource, fieldPath: FieldPath, value: unknown, fallback?: undefined): number | undefined;
function durationAt(source: YamlSource, fieldPath: FieldPath, value: unknown, fallback?: number): number | undefined {
  if (value === undefined) return fallback;
  const ms = parseDurationMs(value as string | number);
  if (ms === undefined) throw source.error(fieldPath, `${JSON.stringify(value)} is not a duration (e.g. 500ms, 5s, 2m)`);
  if (ms > MAX_DURATION_MS) throw source.error(fieldPath, `${JSON.stringify(value)} is too long: at most ${MAX_DURATION_TEXT}`);
  return ms;
}

class WalkSlots implements SlotAllocator {
  readonly ranges: (readonly [number, number])[] = [];
  allocateWalk(min: number, max: number): number {
    this.ranges.push([min, max]);
    return this.ranges.length - 1;
  }
}

function templateAt(source: YamlSource, fieldPath: FieldPath, text: string, slots: SlotAllocator): CompiledTemplate {
  try {
    return compileTemplate(text, slots);
  } catch (error) {
    if (error instanceof TemplateError) throw source.error(fieldPath, `template error: ${error.message}`, { offsetInValue: error.offset });
    throw error;
  }
}

function defaultTaskName(pathSource: string): string {
  const query = pathSource.indexOf('?');
  return query < 0 ? pathSource : pathSource.slice(0, query);
}

function compileHttpTask(source: YamlSource, taskPath: FieldPath, raw: Json, defaults: Json, slots: WalkSlots, fallbackTimeoutMs: number): TaskSpec {
  const http = raw.http as Json;
  const httpPath = [...taskPath, 'http'];
  const method = (http.method as string | undefined) ?? (http.json !== undefined || http.body !== undefined ? 'POST' : 'GET');
  if (http.json !== undefined && http.body !== undefined) throw source.error([...httpPath, 'body'], 'give either json or body, not both', { atKey: true });
  if ((method === 'GET' || method === 'HEAD') && (http.json !== undefined || http.body !== undefined)) {
    throw source.error([...httpPath, 'method'], `${method} requests carry no body; remove json/body or use POST`);
  }
  const pathTemplate = templateAt(source, [...httpPath, 'path'], http.path as string, slots);
  const mergedHeaders = { ...((defaults.headers as Json | undefined) ?? {}), ...((http.headers as Json | undefined) ?? {}) };
  const headers = Object.entries(mergedHeaders).map(([name, value]) => {
    const where = http.headers && name in (http.headers as Json) ? [...httpPath, 'headers', name] : ['http', 'headers', name];
    return [name.toLowerCase(), templateAt(source, where, value as string, slots)] as const;
  });
  let body: HttpAction['body'];
  let contentType: string | undefined;
  if (http.json !== undefined) {
    body = compileJsonBody(http.json, (leaf) => templateAt(source, [...httpPath, 'json', ...leaf.path], leaf.text, slots));
    contentType = 'application/json';
  } else if (typeof http.body === 'string') {
    const compiled = templateAt(source, [...httpPath, 'body'], http.body, slots);
    const evaluate = compiled.evaluate;
    body = (context) => String(evaluate(context));
    contentType = 'text/plain';
  }
  const timeoutMs = durationAt(source, [...httpPath, 'timeout'], http.timeout, durationAt(source, ['http', 'timeout'], defaults.timeout, fallbackTimeoutMs));
  if (timeoutMs <= 0) throw source.error([...httpPath, 'timeout'], 'must be greater than 0');
  const name = (raw.name as string | undefined) ?? defaultTaskName(http.path as string);
  return {
    name,
    weight: (raw.weight as number | undefined) ?? 1,
    action: { kind: 'http', method, path: pathTemplate, headers, body, contentType, timeoutMs },
  };
}

function compileWait(source: YamlSource, raw: Json | undefined): WaitModel {
  if (!raw) return { model: 'constant', timeMs: 0 };
  const used: Readonly<Record<string, readonly string[]>> = { constant: ['time'], between: ['min', 'max'], pacing: ['interval'], throughput: ['perSecond'] };
  for (const key of Object.keys(raw)) {
    if (key !== 'model' && !used[String(raw.model)]?.includes(key)) {
      throw source.error(['wait', key], `not used by the ${String(raw.model)} wait model (it takes ${used[String(raw.model)]?.join(', ') ?? 'nothing'})`, { atKey: true });
    }
  }
  const need = (field: string): unknown => {
    if (raw[field] === undefined) throw source.error(['wait'], `wait model '${String(raw.model)}' needs '${field}'`);
    return raw[field];
  };
  switch (raw.model) {
    case 'constant':
      return { model: 'constant', timeMs: durationAt(source, ['wait', 'time'], need('time'), 0) };
    case 'between': {
      const minMs = durationAt(source, ['wait', 'min'], need('min'), 0);
      const maxMs = durationAt(source, ['wait', 'max'], need('max'), 0);
      if (minMs > maxMs) throw source.error(['wait', 'min'], `min (${minMs} ms) must not exceed max (${maxMs} ms)`);
      return { model: 'between', minMs, maxMs };
    }
    case 'pacing': {
      const intervalMs = durationAt(source, ['wait', 'interval'], need('interval'), 0);
      if (intervalMs <= 0) throw source.error(['wait', 'interval'], 'must be greater than 0');
      return { model: 'pacing', intervalMs };
    }
    default:
      return { model: 'throughput', perSecond: need('perSecond') as number };
  }
}

function compileIdentityScheme(source: YamlSource, raw: Json | undefined): IdentityScheme {
  if (!raw) return { scheme: 'hex48', prefix: '' };
  const prefix = (raw.prefix as string | undefined) ?? '';
  const allowed: Readonly<Record<string, readonly string[]>> = { hex48: ['prefix'], 'sequential-hex': ['prefix', 'base', 'width'], pattern: ['pattern'] };
  const scheme = raw.scheme as string;
  for (const key of Object.keys(raw)) {
    if (key !== 'scheme' && !allowed[scheme]?.includes(key)) throw source.error(['identity', key], `not used by the ${scheme} scheme`, { atKey: true });
  }
  if (scheme === 'pattern') {
    const pattern = raw.pattern as string | undefined;
    if (pattern === undefined) throw source.error(['identity'], "the pattern scheme needs 'pattern', e.g. \"node-{index:6}\"");
    if (!patternHasIndex(pattern)) throw source.error(['identity', 'pattern'], 'must contain {index} (or {index:WIDTH}) so every id is unique');
    return { scheme: 'pattern', pattern };
  }
  if (scheme === 'sequential-hex') {
    const base = BigInt((raw.base as string | undefined) ?? '0x0');
    return { scheme: 'sequential-hex', base, width: (raw.width as number | undefined) ?? 12, prefix };
  }
  return { scheme: 'hex48', prefix };
}

/**
 * Reads and compiles one device model file. A task's timeout comes from the task, else the model's
 * `http.timeout`, else `fallbackTimeoutMs` (the profile's `http.timeout`).
 */
export async function loadDeviceModel(file: string, displayName = file, fallbackTimeoutMs = DEFAULT_TIMEOUT_MS): Promise<DeviceModel> {
  const source = await YamlSource.read(file, displayName);
  const raw = checkSchema(source, deviceModelSchema);
  const slots = new WalkSlots();
  const defaults = (raw.http as Json | undefined) ?? {};
  const compileTasks = (key: 'boot' | 'tasks'): TaskSpec[] =>
    ((raw[key] as Json[] | undefined) ?? []).map((task, i) => compileHttpTask(source, [key, i], task, defaults, slots, fallbackTimeoutMs));
  const boot = compileTasks('boot');
  const tasks = compileTasks('tasks');
  const weights = tasks.map((task) => task.weight);
  if (!weights.some((weight) => weight > 0)) throw source.error(['tasks'], 'at least one task needs a weight above 0');
  return {
    name: raw.name as string,
    file,
    identity: compileIdentityScheme(source, raw.identity as Json | undefined),
    boot,
    tasks,
    cumulativeWeights: cumulativeWeights(weights),
    wait: compileWait(source, raw.wait as Json | undefined),
    walkRanges: slots.ranges,
  };
}

/** Splits `total` devices across fleet entries in proportion to their counts (largest remainder). */
export function apportion(counts: readonly number[], total: number): number[] {
  const sum = counts.reduce((a, b) => a + b, 0);
  if (sum === 0) return counts.map((_, i) => (i === 0 ? total : 0));
  const exact = counts.map((count) => (count * total) / sum);
  const result = exact.map(Math.floor);
  let left = total - result.reduce((a, b) => a + b, 0);
  const order = exact.map((value, i) => [value - Math.floor(value), i] as const).sort((a, b) => b[0] - a[0] || a[1] - b[1]);
  for (const [, i] of order) {
    if (left-- <= 0) break;
    result[i] = (result[i] ?? 0) + 1;
  }
  return result;
}

/** Loads a profile and the device models it names, applies command-line overrides, and compiles everything once. */
export async function loadRunPlan(profileFile: string, overrides: RunOverrides = {}): Promise<RunPlan> {
  const displayName = path.relative(process.cwd(), profileFile) || profileFile;
  const source = await YamlSource.read(profileFile, displayName);
  const raw = checkSchema(source, profileSchema);
  const profileDir = path.dirname(profileFile);
  const httpRaw = (raw.http as Json | undefined) ?? {};
  const profileTimeoutMs = durationAt(source, ['http', 'timeout'], httpRaw.timeout, DEFAULT_TIMEOUT_MS);
  if (profileTimeoutMs <= 0) throw source.error(['http', 'timeout'], 'must be greater than 0');
  const models = new Map<string, Promise<DeviceModel>>();
  const fleetRaw = raw.fleet as Json[];
  const loaded: DeviceModel[] = [];
  for (const [i, entry] of fleetRaw.entries()) {
    const file = path.resolve(profileDir, entry.device as string);
    if (!models.has(file)) models.set(file, loadDeviceModel(file, path.relative(process.cwd(), file), profileTimeoutMs));
    try {
      loaded.push(await (models.get(file) as Promise<DeviceModel>));
    } catch (error) {
      if (error instanceof ProfileError || !(error instanceof Error) || !('code' in error) || error.code !== 'FLEETSIM_FILE') throw error;
      throw source.error(['fleet', i, 'device'], `cannot read device model ${entry.device as string}: ${error.message.split(': ').pop() ?? ''}`);
    }
  }
  const counts = fleetRaw.map((entry) => entry.count as number);
  const total = overrides.devices ?? counts.reduce((a, b) => a + b, 0);
  const apportioned = overrides.devices === undefined ? counts : apportion(counts, total);
  const fleet: FleetEntry[] = loaded.map((model, i) => ({ model, count: apportioned[i] ?? 0 }));
  if (total === 0) throw source.error(['fleet'], 'the fleet has no devices (every count is 0)');

  // An end given on the command line replaces the profile's: `--iterations 20` on a 60 s profile
  // runs 20 iterations however long they take, as the flag promises.
  const flagEnds = overrides.durationMs !== undefined || overrides.iterations !== undefined;
  const durationMs = flagEnds ? overrides.durationMs : durationAt(source, ['duration'], raw.duration);
  const iterations = flagEnds ? overrides.iterations : (raw.iterations as number | undefined);
  if (durationMs === 0) throw source.error(['duration'], 'must be greater than 0');
  if (durationMs === undefined && iterations === undefined) {
    throw source.error([], "a run needs an end: set 'duration' or 'iterations' (or pass --duration / --iterations)");
  }
  const thresholds = [...((raw.thresholds as string[] | undefined) ?? []), ...(overrides.thresholds ?? [])];
  const profileThresholdCount = (raw.thresholds as string[] | undefined)?.length ?? 0;
  thresholds.forEach((expr, i) => {
    try {
      parseThreshold(expr);
    } catch (error) {
      if (i < profileThresholdCount) throw source.error(['thresholds', i], (error as Error).message);
      throw error;
    }
  });
  const bytes = await readFile(profileFile);
  const rawSeed = raw.seed as string | number | undefined;
  const seed = overrides.seed ?? (rawSeed === undefined ? String(Math.floor(Math.random() * 2 ** 32)) : String(rawSeed));
  const spawnRate = overrides.spawnRate ?? (raw.spawnRate as number | undefined) ?? Math.max(1, total);
  const maxTaskTimeout = Math.max(...loaded.flatMap((model) => [...model.boot, ...model.tasks].map((task) => task.action.timeoutMs)));
  return {
    profilePath: displayName,
    profileSha256: createHash('sha256').update(bytes).digest('hex'),
    name: (raw.name as string | undefined) ?? path.basename(profileFile, path.extname(profileFile)),
    seed,
    target: overrides.target ?? (raw.target === undefined ? undefined : checkTargetUrl(raw.target as string, (problem) => source.error(['target'], problem))),
    fleet,
    devices: total,
    spawnRate,
    durationMs,
    iterations,
    drainTimeoutMs: durationAt(source, ['drainTimeout'], raw.drainTimeout, maxTaskTimeout + 1000),
    http: {
      connections: (httpRaw.connections as number | undefined) ?? 100,
      connectionPerDevice: (httpRaw.connectionPerDevice as boolean | undefined) ?? false,
      timeoutMs: profileTimeoutMs,
    },
    thresholds,
  };
}
