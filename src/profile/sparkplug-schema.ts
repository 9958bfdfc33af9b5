import type { JsonSchema } from './schema.ts';

/** The scalar Sparkplug B data types a metric may declare (Sparkplug 3.0, 6.4.16). */
export const SPARKPLUG_TYPES = ['Int8', 'Int16', 'Int32', 'Int64', 'UInt8', 'UInt16', 'UInt32', 'UInt64', 'Float', 'Double', 'Boolean', 'String', 'DateTime', 'Text'] as const;
const metric: JsonSchema = {
  type: 'object',
  properties: {
    name: { type: 'string', description: 'The metric name, e.g. Inputs/Temperature.' },
    type: { type: 'string', enum: SPARKPLUG_TYPES, description: 'Sparkplug B data type.' },
    value: { type: ['string', 'number'], description: 'A template (walk, float, data.NAME, ...) or a constant; converted to the type.' },
  },
  required: ['name', 'type', 'value'],
  additionalProperties: false,
};

const ID_TEXT = '[^+#/]+';

export const sparkplugSchema: JsonSchema = {
  type: 'object',
  description: 'A Sparkplug B edge node (Eclipse Sparkplug 3.0) with devices: NBIRTH/DBIRTH with aliases on connect, NDEATH as the will with bdSeq, seq 0-255, rebirth on NCMD Node Control/Rebirth, and the primary host STATE.',
  properties: {
    group: { type: 'string', pattern: `^${ID_TEXT}$`, description: 'The Sparkplug group id (no +, # or /).' },
    node: { type: 'string', description: 'Edge node id template (default: {{ device.id }}).' },
    primaryHost: { type: 'string', pattern: `^${ID_TEXT}$`, description: 'Host id (no +, # or /): the node waits for spBv1.0/STATE/<id> online before its birth and rebirths when the host comes back.' },
    devices: { type: 'integer', minimum: 0, maximum: 10000, description: 'Devices behind the node (default 0).' },
    deviceId: { type: 'string', description: 'Device id template; {{ repeat.index }} is the device number from 0 (default: d{{ repeat.index }}).' },
    nodeMetrics: { type: 'array', items: metric, description: 'Metrics of the node itself (NBIRTH, NDATA).' },
    deviceMetrics: { type: 'array', items: metric, description: 'Metrics of every device (DBIRTH, DDATA).' },
  },
  required: ['group'],
  additionalProperties: false,
};
