import type { CompiledTemplate } from '../template/compile.ts';
import type { SlotAllocator } from '../template/functions.ts';
import { durationAt, templateAt } from './field-readers.ts';
import type { EnvironmentReader } from './field-readers.ts';
import type { HttpDefaultsDoc } from './device-schema.ts';
import type { SparkplugSpec } from './sparkplug-spec.ts';
import type { FieldPath, YamlSource } from './yaml-source.ts';

export const DEFAULT_TIMEOUT_MS = 10_000;
export const DEFAULT_ACK_TIMEOUT_MS = 5_000;

/** What a device model's templates may reach while it compiles: its walks, the environment, its captures. */
export class ModelScope implements SlotAllocator {
  readonly ranges: (readonly [number, number])[] = [];
  /** The data columns the model's templates read, by slot; the profile maps them to its data file. */
  readonly dataColumns: string[] = [];
  constructor(
    readonly variables: readonly string[],
    private readonly environmentReader: EnvironmentReader,
    /** Files a template names (a route's GeoJSON, a key) are found beside the model. */
    readonly directory: string,
  ) {}

  allocateWalk(min: number, max: number): number {
    this.ranges.push([min, max]);
    return this.ranges.length - 1;
  }

  environment(name: string): string {
    return this.environmentReader.read(name);
  }

  variable(name: string): number {
    const slot = this.variables.indexOf(name);
    if (slot < 0) {
      const known = this.variables.length > 0 ? `captured: ${this.variables.join(', ')}` : 'no task has a capture';
      throw new Error(`no task captures '${name}' (${known})`);
    }
    return slot;
  }

  data(name: string): number {
    const slot = this.dataColumns.indexOf(name);
    if (slot >= 0) return slot;
    this.dataColumns.push(name);
    return this.dataColumns.length - 1;
  }
}

/** What compiling one part of a device model needs from the rest of it. */
export interface CompileContext {
  readonly source: YamlSource;
  readonly defaults: HttpDefaultsDoc;
  readonly scope: ModelScope;
  readonly fallbackTimeoutMs: number;
  /** The model's `mqtt.ackTimeout`, or the default. */
  readonly ackTimeoutMs: number;
  /** The model's `mqtt.version` is 5: MQTT 5 properties are allowed. */
  readonly version5: boolean;
  readonly sparkplug: SparkplugSpec | undefined;
  /** Compiling a reaction's steps: a `reply` step is allowed. */
  readonly inReaction?: boolean;
}

export function defaultStepName(pathSource: string): string {
  const query = pathSource.indexOf('?');
  return query < 0 ? pathSource : pathSource.slice(0, query);
}

/** `devices/{{ device.id }}/lamp/changed` groups as `devices/+/lamp/changed`, as a broker's filter would. */
export function defaultTopicName(topicSource: string): string {
  return topicSource.replace(/\{\{.*?\}\}/gu, '+');
}

export function positiveDuration(context: CompileContext, fieldPath: FieldPath, value: string | number | undefined, fallback: number): number {
  const ms = durationAt(context.source, fieldPath, value, fallback);
  if (ms <= 0) throw context.source.error(fieldPath, 'must be greater than 0');
  return ms;
}

export function topicAt(context: CompileContext, fieldPath: FieldPath, text: string, filter: boolean): CompiledTemplate {
  if (text === '') throw context.source.error(fieldPath, 'a topic cannot be empty');
  if (!filter && /[+#]/u.test(text.replace(/\{\{.*?\}\}/gu, ''))) throw context.source.error(fieldPath, 'a topic to publish on cannot contain the wildcards + or #');
  return templateAt(context.source, fieldPath, text, context.scope);
}
