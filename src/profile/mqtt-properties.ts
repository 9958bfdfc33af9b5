import type { CompiledTemplate } from '../template/compile.ts';
import type { SlotAllocator } from '../template/functions.ts';
import { durationAt, templateAt } from './field-readers.ts';
import type { MqttSessionDoc, PublishDoc, PublishPropertiesDoc } from './device-schema.ts';
import type { DeliveryHeaderMode, PublishProperties } from './types.ts';
import type { FieldPath, YamlSource } from './yaml-source.ts';

/** What compiling MQTT 5 fields needs: where errors point, what templates reach, and the model's version. */
export interface PropertyScope {
  readonly source: YamlSource;
  readonly scope: SlotAllocator;
  /** The model's `mqtt.version` is 5. */
  readonly version5: boolean;
}

function needsVersion5(where: PropertyScope, fieldPath: FieldPath, what: string): void {
  if (!where.version5) throw where.source.error(fieldPath, `${what} are MQTT 5 only: set mqtt.version: "5"`, { atKey: true });
}

/** `name: template` pairs, in the order written (user properties are an ordered list in MQTT 5). */
function userPropertiesAt(where: PropertyScope, fieldPath: FieldPath, raw: Readonly<Record<string, string>> | undefined): (readonly [string, CompiledTemplate])[] {
  if (raw === undefined) return [];
  needsVersion5(where, fieldPath, 'user properties');
  return Object.entries(raw).map(([name, value]) => [name, templateAt(where.source, [...fieldPath, name], value, where.scope)] as const);
}

/** A publish step's `properties`; undefined when it sets none, so such a publish costs nothing more. */
export function publishPropertiesAt(where: PropertyScope, actionPath: FieldPath, raw: PublishPropertiesDoc | undefined): PublishProperties | undefined {
  if (raw === undefined || Object.keys(raw).length === 0) return undefined;
  const fieldPath = [...actionPath, 'properties'];
  needsVersion5(where, fieldPath, 'PUBLISH properties');
  const template = (field: 'contentType' | 'responseTopic' | 'correlationData'): CompiledTemplate | undefined => {
    const text = raw[field];
    return text === undefined ? undefined : templateAt(where.source, [...fieldPath, field], text, where.scope);
  };
  const expiryMs = durationAt(where.source, [...fieldPath, 'messageExpiry'], raw.messageExpiry);
  if (expiryMs !== undefined && expiryMs > 0xffffffff * 1000) throw where.source.error([...fieldPath, 'messageExpiry'], 'at most 4294967295s (the property is 32 bits of seconds)');
  const responseTopic = template('responseTopic');
  if (responseTopic && /[+#]/u.test(responseTopic.source.replace(/\{\{.*?\}\}/gu, ''))) {
    throw where.source.error([...fieldPath, 'responseTopic'], 'a response topic is a topic name: no wildcards + or #');
  }
  return {
    messageExpiryS: expiryMs === undefined ? undefined : Math.ceil(expiryMs / 1000),
    contentType: template('contentType'),
    responseTopic,
    correlationData: template('correlationData'),
    userProperties: userPropertiesAt(where, [...fieldPath, 'user'], raw.user),
  };
}

export function deliveryModeAt(where: PropertyScope, actionPath: FieldPath, raw: PublishDoc['delivery']): DeliveryHeaderMode | undefined {
  if (raw === 'property') needsVersion5(where, [...actionPath, 'delivery'], 'delivery headers as user properties');
  return raw;
}

/** The session fields MQTT 5 adds to CONNECT, and how fast the device takes in what it receives. */
export function sessionExtrasAt(where: PropertyScope, section: MqttSessionDoc): { userProperties: (readonly [string, CompiledTemplate])[]; receiveMaximum: number | undefined; processingMs: number } {
  if (section.receiveMaximum !== undefined) needsVersion5(where, ['mqtt', 'receiveMaximum'], 'Receive Maximum and other CONNECT properties');
  return {
    userProperties: userPropertiesAt(where, ['mqtt', 'userProperties'], section.userProperties),
    receiveMaximum: section.receiveMaximum,
    processingMs: durationAt(where.source, ['mqtt', 'processing'], section.processing, 0),
  };
}
