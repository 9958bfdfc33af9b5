import { patternHasIndex } from '../identity/device-id.ts';
import type { IdentityScheme } from '../identity/device-id.ts';
import { durationAt } from './field-readers.ts';
import type { DeviceModelDoc, IdentityDoc, WaitDoc } from './device-schema.ts';
import type { TaskSpec, WaitModel } from './types.ts';
import type { YamlSource } from './yaml-source.ts';

/** Periodic tasks (`every`) and weighted picks do not mix: a device either keeps timetables or draws tasks. */
export function checkPeriodic(source: YamlSource, tasks: readonly TaskSpec[], raw: DeviceModelDoc): boolean {
  const periodic = tasks.filter((task) => task.everyMs !== undefined).length;
  if (periodic === 0) return false;
  if (periodic < tasks.length) throw source.error(['tasks', tasks.findIndex((task) => task.everyMs === undefined)], "when one task has 'every', all need it (each runs on its own period)");
  if (raw.wait !== undefined) throw source.error(['wait'], "tasks with 'every' keep their own periods; remove wait", { atKey: true });
  const weighted = (raw.tasks ?? []).findIndex((task) => task.weight !== undefined);
  if (weighted >= 0) throw source.error(['tasks', weighted, 'weight'], "a task with 'every' is not picked by weight; remove weight", { atKey: true });
  for (const [i, task] of (raw.boot ?? []).entries()) {
    if (task.every !== undefined) throw source.error(['boot', i, 'every'], 'boot tasks run once, in order', { atKey: true });
  }
  return true;
}

/**
 * Refuses a key the chosen variant does not use, at the key: the schema allows it for some
 * variant, and silently ignoring it would run something else than was written.
 */
function rejectUnusedKeys(
  source: YamlSource,
  section: string,
  raw: object,
  discriminator: string,
  variant: string,
  used: Readonly<Record<string, readonly string[]>>,
  problem: (variant: string, takes: readonly string[] | undefined) => string,
): void {
  const takes = used[variant];
  for (const key of Object.keys(raw)) {
    if (key !== discriminator && !takes?.includes(key)) throw source.error([section, key], problem(variant, takes), { atKey: true });
  }
}

export function compileWait(source: YamlSource, raw: WaitDoc | undefined): WaitModel {
  if (!raw) return { model: 'constant', timeMs: 0 };
  const used = { constant: ['time'], between: ['min', 'max'], pacing: ['interval'], throughput: ['perSecond'] };
  rejectUnusedKeys(source, 'wait', raw, 'model', raw.model, used, (model, takes) => `not used by the ${model} wait model (it takes ${takes?.join(', ') ?? 'nothing'})`);
  const need = <T>(field: string, value: T | undefined): T => {
    if (value === undefined) throw source.error(['wait'], `wait model '${raw.model}' needs '${field}'`);
    return value;
  };
  switch (raw.model) {
    case 'constant':
      return { model: 'constant', timeMs: durationAt(source, ['wait', 'time'], need('time', raw.time), 0) };
    case 'between': {
      const minMs = durationAt(source, ['wait', 'min'], need('min', raw.min), 0);
      const maxMs = durationAt(source, ['wait', 'max'], need('max', raw.max), 0);
      if (minMs > maxMs) throw source.error(['wait', 'min'], `min (${minMs} ms) must not exceed max (${maxMs} ms)`);
      return { model: 'between', minMs, maxMs };
    }
    case 'pacing': {
      const intervalMs = durationAt(source, ['wait', 'interval'], need('interval', raw.interval), 0);
      if (intervalMs <= 0) throw source.error(['wait', 'interval'], 'must be greater than 0');
      return { model: 'pacing', intervalMs };
    }
    case 'throughput':
      return { model: 'throughput', perSecond: need('perSecond', raw.perSecond) };
  }
}

export function compileIdentityScheme(source: YamlSource, raw: IdentityDoc | undefined): IdentityScheme {
  if (!raw) return { scheme: 'hex48', prefix: '' };
  const prefix = raw.prefix ?? '';
  const used = { hex48: ['prefix'], 'sequential-hex': ['prefix', 'base', 'width'], pattern: ['pattern'], data: ['column'] };
  rejectUnusedKeys(source, 'identity', raw, 'scheme', raw.scheme, used, (variant) => `not used by the ${variant} scheme`);
  switch (raw.scheme) {
    case 'data':
      if (raw.column === undefined) throw source.error(['identity'], "the data scheme needs 'column': the data file's column holding each device's id");
      return { scheme: 'data', column: raw.column };
    case 'pattern':
      if (raw.pattern === undefined) throw source.error(['identity'], 'the pattern scheme needs \'pattern\', e.g. "node-{index:6}"');
      if (!patternHasIndex(raw.pattern)) throw source.error(['identity', 'pattern'], 'must contain {index} (or {index:WIDTH}) so every id is unique');
      return { scheme: 'pattern', pattern: raw.pattern };
    case 'sequential-hex':
      return { scheme: 'sequential-hex', base: BigInt(raw.base ?? '0x0'), width: raw.width ?? 12, prefix };
    case 'hex48':
      return { scheme: 'hex48', prefix };
  }
}
