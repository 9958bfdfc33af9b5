import { decodePayload, encodePayload } from 'sparkplug-payload/lib/sparkplugbpayload.js';
import type { UMetric } from 'sparkplug-payload/lib/sparkplugbpayload.js';
import type { SparkplugDataType, SparkplugMetricSpec } from '../../../profile/sparkplug-spec.ts';
import type { TemplateContext, TemplateValue } from '../../../template/context.ts';

/**
 * Sparkplug B payloads through Eclipse Tahu's `sparkplug-payload` (the official schema, compiled
 * once by the library): fleetsim builds the metric lists, the library encodes them.
 */

const INTEGER_TYPES: ReadonlySet<SparkplugDataType> = new Set(['Int8', 'Int16', 'Int32', 'Int64', 'UInt8', 'UInt16', 'UInt32', 'UInt64', 'DateTime']);

/** A template's value as the metric's type: the encoder would write a string into a number field as 0. */
export function metricValue(type: SparkplugDataType, value: TemplateValue): number | boolean | string {
  if (type === 'Boolean') return value === true || value === 'true' || value === 1 || value === '1';
  if (type === 'String' || type === 'Text') return String(value);
  const number = Number(value);
  if (!Number.isFinite(number)) return 0;
  return INTEGER_TYPES.has(type) ? Math.trunc(number) : number;
}

export function encodeSparkplug(timestamp: number, seq: number | undefined, metrics: UMetric[]): Buffer {
  const bytes = encodePayload(seq === undefined ? { timestamp, metrics } : { timestamp, seq, metrics });
  return Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength);
}

/** Birth metrics carry name, alias, type and value; `aliasBase + i + 1` is metric i's alias. */
export function birthMetrics(specs: readonly SparkplugMetricSpec[], aliasBase: number, context: TemplateContext, timestamp: number): UMetric[] {
  return specs.map((spec, i) => ({ name: spec.name, alias: aliasBase + i + 1, type: spec.type, value: metricValue(spec.type, spec.value.evaluate(context)), timestamp }));
}

/** Data metrics carry the alias in place of the name (Sparkplug 3.0, 6.4.7). */
export function dataMetrics(specs: readonly SparkplugMetricSpec[], aliasBase: number, context: TemplateContext, timestamp: number): UMetric[] {
  const metrics = new Array<UMetric>(specs.length);
  for (let i = 0; i < specs.length; i++) {
    const spec = specs[i] as SparkplugMetricSpec;
    metrics[i] = { alias: aliasBase + i + 1, type: spec.type, value: metricValue(spec.type, spec.value.evaluate(context)), timestamp };
  }
  return metrics;
}

/** The request log's form of a Sparkplug payload: the decoded message as JSON, 64-bit values as numbers. */
export function describeSparkplug(payload: Buffer): string {
  try {
    return JSON.stringify(decodePayload(payload), (_key, value: unknown) => (isLong(value) ? value.toNumber() : value));
  } catch {
    return `hex:${payload.toString('hex')}`;
  }
}

/** True when a Node Control/Rebirth metric in an NCMD asks for a rebirth. */
export function asksRebirth(payload: Buffer): boolean {
  try {
    return (decodePayload(payload).metrics ?? []).some((metric) => metric.name === 'Node Control/Rebirth' && metric.value === true);
  } catch {
    return false;
  }
}

function isLong(value: unknown): value is { toNumber(): number } {
  return typeof value === 'object' && value !== null && 'low' in value && 'high' in value && typeof (value as { toNumber?: unknown }).toNumber === 'function';
}
