import { Type } from '@sinclair/typebox';
import type { Static } from '@sinclair/typebox';
import { oneOf, textOrNumber } from './schema-kit.ts';

/** The scalar Sparkplug B data types a metric may declare (Sparkplug 3.0, 6.4.16). */
export const SPARKPLUG_TYPES = ['Int8', 'Int16', 'Int32', 'Int64', 'UInt8', 'UInt16', 'UInt32', 'UInt64', 'Float', 'Double', 'Boolean', 'String', 'DateTime', 'Text'] as const;
const metric = Type.Object(
  {
    name: Type.String({ description: 'The metric name, e.g. Inputs/Temperature.' }),
    type: oneOf(SPARKPLUG_TYPES, { description: 'Sparkplug B data type.' }),
    value: textOrNumber({ description: 'A template (walk, float, data.NAME, ...) or a constant; converted to the type.' }),
  },
  { additionalProperties: false },
);

const ID_TEXT = '[^+#/]+';

export const sparkplugSchema = Type.Object(
  {
    group: Type.String({ pattern: `^${ID_TEXT}$`, description: 'The Sparkplug group id (no +, # or /).' }),
    node: Type.Optional(Type.String({ description: 'Edge node id template (default: {{ device.id }}).' })),
    primaryHost: Type.Optional(
      Type.String({ pattern: `^${ID_TEXT}$`, description: 'Host id (no +, # or /): the node waits for spBv1.0/STATE/<id> online before its birth and rebirths when the host comes back.' }),
    ),
    devices: Type.Optional(Type.Integer({ minimum: 0, maximum: 10000, description: 'Devices behind the node (default 0).' })),
    deviceId: Type.Optional(Type.String({ description: 'Device id template; {{ repeat.index }} is the device number from 0 (default: d{{ repeat.index }}).' })),
    nodeMetrics: Type.Optional(Type.Array(metric, { description: 'Metrics of the node itself (NBIRTH, NDATA).' })),
    deviceMetrics: Type.Optional(Type.Array(metric, { description: 'Metrics of every device (DBIRTH, DDATA).' })),
  },
  {
    description:
      'A Sparkplug B edge node (Eclipse Sparkplug 3.0) with devices: NBIRTH/DBIRTH with aliases on connect, NDEATH as the will with bdSeq, seq 0-255, rebirth on NCMD Node Control/Rebirth, and the primary host STATE.',
    additionalProperties: false,
  },
);

export type SparkplugDoc = Static<typeof sparkplugSchema>;
export type SparkplugMetricDoc = Static<typeof metric>;
