import type { CompiledTemplate } from '../template/compile.ts';
import type { SlotAllocator } from '../template/functions.ts';
import { templateAt } from './field-readers.ts';
import type { SPARKPLUG_TYPES, SparkplugDoc, SparkplugMetricDoc } from './sparkplug-schema.ts';
import type { FieldPath, YamlSource } from './yaml-source.ts';

export type SparkplugDataType = (typeof SPARKPLUG_TYPES)[number];

export interface SparkplugMetricSpec {
  readonly name: string;
  readonly type: SparkplugDataType;
  readonly value: CompiledTemplate;
}

/** A Sparkplug B edge node and its devices, published over the device's one MQTT session. */
export interface SparkplugSpec {
  readonly group: string;
  /** The edge node id, rendered once per device (default: the device id). */
  readonly node: CompiledTemplate;
  /** The primary host application whose STATE the node waits for before its birth; undefined births at once. */
  readonly primaryHost: string | undefined;
  /** Device ids, rendered once per device with `{{ repeat.index }}` as the device's number from 0. */
  readonly deviceId: CompiledTemplate;
  readonly devices: number;
  readonly nodeMetrics: readonly SparkplugMetricSpec[];
  /** Each device's metrics, compiled once per device so each has its own random walks. */
  readonly deviceMetrics: readonly (readonly SparkplugMetricSpec[])[];
}

/** What a `sparkplug:` step publishes: one NDATA, or one DDATA per device of the node (a burst). */
export type SparkplugDataKind = 'NDATA' | 'DDATA';

function compileMetrics(source: YamlSource, path: FieldPath, raw: readonly SparkplugMetricDoc[] | undefined, scope: SlotAllocator): SparkplugMetricSpec[] {
  const seen = new Set<string>();
  return (raw ?? []).map((entry, i) => {
    const name = entry.name;
    if (seen.has(name)) throw source.error([...path, i, 'name'], `metric '${name}' is declared twice`);
    if (name === 'bdSeq' || name.startsWith('Node Control/')) throw source.error([...path, i, 'name'], `'${name}' is sent by fleetsim itself`);
    seen.add(name);
    return { name, type: entry.type, value: templateAt(source, [...path, i, 'value'], String(entry.value), scope) };
  });
}

/** Compiles the `sparkplug:` section: every template once (device metrics once per device). */
export function compileSparkplug(source: YamlSource, raw: SparkplugDoc, scope: SlotAllocator): SparkplugSpec {
  const at = (...rest: (string | number)[]): FieldPath => ['sparkplug', ...rest];
  const devices = raw.devices ?? 0;
  if (devices > 0 && (raw.deviceMetrics ?? []).length === 0) throw source.error(at('devices'), 'devices need deviceMetrics');
  return {
    group: raw.group,
    node: templateAt(source, at('node'), raw.node ?? '{{ device.id }}', scope),
    primaryHost: raw.primaryHost,
    deviceId: templateAt(source, at('deviceId'), raw.deviceId ?? 'd{{ repeat.index }}', scope),
    devices,
    nodeMetrics: compileMetrics(source, at('nodeMetrics'), raw.nodeMetrics, scope),
    deviceMetrics: Array.from({ length: devices }, () => compileMetrics(source, at('deviceMetrics'), raw.deviceMetrics, scope)),
  };
}
