import { createHash } from 'node:crypto';
import { readFile } from 'node:fs/promises';
import path from 'node:path';
import { ProfileError, UsageError } from '../errors.ts';
import { DEFAULT_TIMEOUT_MS, loadDeviceModel } from './device-model.ts';
import { checkedData, durationAt, EnvironmentReader } from './field-readers.ts';
import { loadShape } from './load-shape.ts';
import type { ShapeOverrides } from './load-shape.ts';
import { profileSchema } from './profile-schema.ts';
import { parseThreshold } from './thresholds.ts';
import { checkCommandTargets } from './command-targets.ts';
import { DEFAULT_MIN_DELIVERED, MIN_DELIVERED_HELP, parseMinDelivered } from './min-delivered.ts';
import type { DataTable } from './data-file.ts';
import { loadFleetData } from './fleet-data.ts';
import { networkAt } from './network.ts';
import { fleetEventsAt } from './lifecycle.ts';
import { MAX_DEVICES } from './limits.ts';
import { checkBrokerUrl, checkTargetUrl } from './target-url.ts';
import { loadClientTls } from './tls-settings.ts';
import type { DeviceModel, FleetEntry, RunPlan } from './types.ts';
import { modelTasks } from './types.ts';
import { YamlSource } from './yaml-source.ts';

export { loadDeviceModel } from './device-model.ts';
export { EnvironmentReader } from './field-readers.ts';

/** Values given on the command line; they win over the profile. */
export interface RunOverrides extends ShapeOverrides {
  readonly seed?: string;
  readonly target?: string;
  readonly broker?: string;
  readonly thresholds?: readonly string[];
  /** `--min-delivered`: the delivered-share floor, null for off. */
  readonly minDelivered?: number | null;
}

function minDeliveredOf(source: YamlSource, text: string | undefined): number | null {
  if (text === undefined) return DEFAULT_MIN_DELIVERED;
  const share = parseMinDelivered(text);
  if (share === undefined) throw source.error(['minDelivered'], `expected ${MIN_DELIVERED_HELP}, got '${text}'`);
  return share;
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
/**
 * A check of the finished plan that needs more than the profile knows (which stats rows the engine
 * makes, for thresholds that name one): the run layer passes it in, so the profile stays below the
 * engine. It returns the threshold it refuses and why.
 */
export type ThresholdRowCheck = (plan: RunPlan) => { readonly index: number; readonly message: string } | undefined;

export async function loadRunPlan(profileFile: string, overrides: RunOverrides = {}, environment = new EnvironmentReader(), thresholdRows?: ThresholdRowCheck): Promise<RunPlan> {
  const displayName = path.relative(process.cwd(), profileFile) || profileFile;
  const source = await YamlSource.read(profileFile, displayName);
  const raw = checkedData(source, profileSchema);
  const profileDir = path.dirname(profileFile);
  const httpRaw = raw.http ?? {};
  const profileTimeoutMs = durationAt(source, ['http', 'timeout'], httpRaw.timeout, DEFAULT_TIMEOUT_MS);
  if (profileTimeoutMs <= 0) throw source.error(['http', 'timeout'], 'must be greater than 0');
  const models = new Map<string, Promise<DeviceModel>>();
  const fleetRaw = raw.fleet;
  const loaded: DeviceModel[] = [];
  for (const [i, entry] of fleetRaw.entries()) {
    const file = path.resolve(profileDir, entry.device);
    let model = models.get(file);
    if (!model) {
      model = loadDeviceModel(file, { displayName: path.relative(process.cwd(), file), fallbackTimeoutMs: profileTimeoutMs, environment });
      models.set(file, model);
    }
    try {
      loaded.push(await model);
    } catch (error) {
      if (error instanceof ProfileError || !(error instanceof Error) || !('code' in error) || error.code !== 'FLEETSIM_FILE') throw error;
      throw source.error(['fleet', i, 'device'], `cannot read device model ${entry.device}: ${error.message.split(': ').pop() ?? ''}`);
    }
  }
  const counts = fleetRaw.map((entry) => entry.count);
  const fleetTotal = counts.reduce((a, b) => a + b, 0);
  if (fleetTotal > MAX_DEVICES) throw source.error(['fleet'], `the counts add up to ${fleetTotal} devices: at most ${MAX_DEVICES} run in one process (split the fleet with --shard or --workers)`);
  const shape = loadShape(source, raw, overrides, fleetTotal);
  const total = shape.devices;
  const apportioned = total === fleetTotal ? counts : apportion(counts, total);
  const tables = new Map<string, Promise<DataTable>>();
  const fleet: FleetEntry[] = [];
  for (const [i, model] of loaded.entries()) {
    const count = apportioned[i] ?? 0;
    const data = await loadFleetData(source, i, fleetRaw[i]?.data, model, count, profileDir, tables);
    const network = networkAt(source, ['fleet', i, 'network'], fleetRaw[i]?.network);
    fleet.push({ model, count, ...(data ? { data } : {}), ...(network ? { network } : {}) });
  }
  if (total === 0) throw source.error(['fleet'], 'the fleet has no devices (every count is 0)');
  checkCommandTargets(fleet);
  const thresholds = [...(raw.thresholds ?? []), ...(overrides.thresholds ?? [])];
  const profileThresholdCount = raw.thresholds?.length ?? 0;
  thresholds.forEach((expr, i) => {
    try {
      parseThreshold(expr);
    } catch (error) {
      if (i < profileThresholdCount && error instanceof Error) throw source.error(['thresholds', i], error.message);
      throw error;
    }
  });
  const bytes = await readFile(profileFile);
  const seed = overrides.seed ?? (raw.seed === undefined ? String(Math.floor(Math.random() * 2 ** 32)) : String(raw.seed));
  const maxTaskTimeout = Math.max(
    ...loaded.flatMap((model) => modelTasks(model).flatMap((task) => task.steps.map((step) => step.action.timeoutMs))),
    ...loaded.flatMap((model) => (model.mqtt ? [model.mqtt.connectTimeoutMs] : [])),
  );
  const plan: RunPlan = {
    profilePath: displayName,
    profileSha256: createHash('sha256').update(bytes).digest('hex'),
    name: raw.name ?? path.basename(profileFile, path.extname(profileFile)),
    seed,
    target: overrides.target ?? (raw.target === undefined ? undefined : checkTargetUrl(raw.target, (problem) => source.error(['target'], problem))),
    broker: overrides.broker ?? (raw.broker === undefined ? undefined : checkBrokerUrl(raw.broker, (problem) => source.error(['broker'], problem))),
    fleet,
    devices: total,
    spawnRate: shape.spawnRate,
    spawnMode: shape.spawnMode,
    stages: shape.stages,
    durationMs: shape.durationMs,
    iterations: shape.iterations,
    drainTimeoutMs: durationAt(source, ['drainTimeout'], raw.drainTimeout, maxTaskTimeout + 1000),
    http: {
      connections: httpRaw.connections ?? 100,
      connectionPerDevice: httpRaw.connectionPerDevice ?? false,
      client: httpRaw.client ?? 'native',
      timeoutMs: profileTimeoutMs,
      tls: await loadClientTls(source, profileDir, 'http', httpRaw.tls, fleet),
    },
    mqtt: { tls: await loadClientTls(source, profileDir, 'mqtt', raw.mqtt?.tls, fleet) },
    thresholds,
    minDelivered: overrides.minDelivered !== undefined ? overrides.minDelivered : minDeliveredOf(source, raw.minDelivered),
    secrets: [...environment.used].map(([name, value]) => ({ name, value })),
    fleetEvents: fleetEventsAt(
      source,
      raw.events,
      loaded.map((model) => model.name),
    ),
  };
  const unknownRow = thresholdRows?.(plan);
  if (unknownRow) {
    if (unknownRow.index < profileThresholdCount) throw source.error(['thresholds', unknownRow.index], unknownRow.message);
    throw new UsageError(`--threshold: ${unknownRow.message}`);
  }
  return plan;
}
