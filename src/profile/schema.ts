import { closest } from '../util/did-you-mean.ts';
import { DURATION_PATTERN, MAX_DURATION_MS } from './duration.ts';
import { MAX_CONNECTIONS, MAX_COUNT, MAX_DEVICES, MAX_SPAWN_RATE } from './limits.ts';
import { sparkplugSchema } from './sparkplug-schema.ts';
import { networkSchema } from './network-schema.ts';
import { fleetEventsSchema, lifecycleSchema } from './lifecycle-schema.ts';

/**
 * The JSON Schemas of device models and run profiles. They are the single source for both the
 * validator and the published `schema/*.schema.json` files editors use for completion.
 */
export interface JsonSchema {
  readonly $schema?: string;
  readonly $id?: string;
  readonly title?: string;
  readonly description?: string;
  readonly type?: 'object' | 'array' | 'string' | 'number' | 'integer' | 'boolean' | readonly ('string' | 'number' | 'integer' | 'object')[];
  readonly properties?: Readonly<Record<string, JsonSchema>>;
  readonly required?: readonly string[];
  readonly additionalProperties?: boolean | JsonSchema;
  readonly items?: JsonSchema;
  readonly minItems?: number;
  readonly enum?: readonly (string | number)[];
  readonly pattern?: string;
  readonly minimum?: number;
  readonly exclusiveMinimum?: number;
  readonly maximum?: number;
}

const duration: JsonSchema = {
  type: ['string', 'number'],
  pattern: DURATION_PATTERN,
  minimum: 0,
  maximum: MAX_DURATION_MS / 1000,
  description: 'A duration: seconds as a number, or a string such as 500ms, 5s, 2m, 1h, 2d, 1m30s.',
};

const headers: JsonSchema = {
  type: 'object',
  additionalProperties: { type: 'string' },
  description: 'Header name to template.',
};

const httpAction: JsonSchema = {
  type: 'object',
  description: 'An HTTP request against the run target.',
  properties: {
    method: { type: 'string', enum: ['GET', 'POST', 'PUT', 'PATCH', 'DELETE', 'HEAD', 'OPTIONS'] },
    path: { type: 'string', pattern: '^/', description: 'Path and query, a template; starts with /.' },
    headers,
    json: { description: 'A JSON body whose string leaves are templates; a leaf that is one {{ }} keeps its type.' },
    body: { type: 'string', description: 'A raw body template.' },
    timeout: duration,
    expectStatus: {
      type: 'array',
      minItems: 1,
      items: { type: 'integer', minimum: 100, maximum: 599 },
      description: 'Statuses that count as success (default: any 2xx), e.g. [200, 404] for a lookup that may miss.',
    },
  },
  required: ['path'],
  additionalProperties: false,
};

const qos: JsonSchema = { type: 'integer', enum: [0, 1, 2], description: 'MQTT quality of service.' };

const userProperties: JsonSchema = {
  type: 'object',
  additionalProperties: { type: 'string' },
  description: 'MQTT 5 user properties: name to template.',
};

const publishAction: JsonSchema = {
  type: 'object',
  description: "An MQTT PUBLISH on the device's session. With repeat, the publishes go out back to back (a burst) and the step ends when each is acked, timed out or failed.",
  properties: {
    topic: { type: 'string', description: 'Topic template, e.g. devices/{{ device.id }}/lamp/changed.' },
    json: { description: 'A JSON payload whose string leaves are templates; a leaf that is one {{ }} keeps its type.' },
    payload: { type: 'string', description: 'A raw payload template.' },
    protobuf: {
      type: 'object',
      description: "A protobuf message of the user's .proto file; the type is resolved once, the fields' templates rendered per publish.",
      properties: {
        file: { type: 'string', description: 'The .proto file, relative to this model.' },
        type: { type: 'string', description: 'The message type, with its package: fleet.Telemetry.' },
        fields: { type: 'object', description: 'Field name to value; string leaves are templates, nested messages are objects.' },
      },
      required: ['file', 'type'],
      additionalProperties: false,
    },
    cbor: { description: 'A CBOR payload: a document whose string leaves are templates; a leaf that is one {{ }} keeps its type.' },
    hex: { type: 'string', description: 'Raw bytes as a hex template, e.g. 01ff{{ ... }}.' },
    base64: { type: 'string', description: 'Raw bytes as a base64 template.' },
    qos,
    retain: { type: 'boolean' },
    ackTimeout: { ...duration, description: 'QoS 1/2: time allowed for PUBACK/PUBCOMP before the publish counts as timed out (default: the model\'s mqtt.ackTimeout).' },
    delivery: {
      type: 'string',
      enum: ['payload', 'property'],
      description: 'Measure delivery to subscribers: a header (device, seq, send time) as a 20-byte payload prefix, or (MQTT 5) as the user property fleetsim-delivery. Subscribers in the run report DELIVER rows and lost, duplicated and out-of-order counts.',
    },
    properties: {
      type: 'object',
      description: 'MQTT 5 PUBLISH properties; string values are templates rendered per publish.',
      properties: {
        messageExpiry: { ...duration, description: 'Message Expiry Interval (whole seconds).' },
        contentType: { type: 'string' },
        responseTopic: { type: 'string' },
        correlationData: { type: 'string', description: 'Sent as binary data (the UTF-8 bytes of the rendered template).' },
        user: userProperties,
      },
      additionalProperties: false,
    },
  },
  required: ['topic'],
  additionalProperties: false,
};

const PAYLOAD_FIELDS = ['json', 'payload', 'protobuf', 'cbor', 'hex', 'base64'] as const;
const payloadProperties = Object.fromEntries(PAYLOAD_FIELDS.map((key) => [key, publishAction.properties?.[key] as JsonSchema]));

const commandAction: JsonSchema = {
  type: 'object',
  description: "A command to another device of the run (cloud to device), timed from its PUBLISH to the reply: a COMMAND row with timeouts, late replies and lost commands. The commands go to the devices of model `to`, one after another.",
  properties: {
    to: { type: 'string', description: "The name of the device model (in this profile's fleet) whose devices receive the commands, in turn; {{ target.id }} and {{ target.index }} are the device the command goes to." },
    topic: { type: 'string', description: 'Command topic template, e.g. devices/{{ target.id }}/cmd.' },
    ...payloadProperties,
    qos,
    timeout: { ...duration, description: "Time allowed from the command's PUBLISH to its reply (default: the model's mqtt.ackTimeout); a later reply counts as late, never as a success." },
    replyTopic: { type: 'string', description: "Where replies arrive, subscribed on every connect (default fleetsim/replies/{{ device.id }}). MQTT 5: sent as each command's Response Topic (a topic name). MQTT 3.1.1: a filter, e.g. devices/+/cmd/reply." },
    correlate: { type: 'string', pattern: '^\\$', description: "The command id, a path into the command's JSON and the reply's (e.g. $.id); needed on MQTT 3.1.1. Without it (MQTT 5) fleetsim sets each command's Correlation Data and matches the reply's." },
  },
  required: ['to', 'topic'],
  additionalProperties: false,
};

const replyAction: JsonSchema = {
  type: 'object',
  description: "MQTT 5, in a reaction: a PUBLISH to the received message's Response Topic, with its Correlation Data echoed.",
  properties: { ...payloadProperties, qos, ackTimeout: publishAction.properties?.ackTimeout as JsonSchema },
  additionalProperties: false,
};

const subscribeAction: JsonSchema = {
  type: 'object',
  description: "An MQTT SUBSCRIBE on the device's session, timed to its SUBACK.",
  properties: {
    topic: { type: 'string', description: 'Topic filter template; + and # allowed.' },
    qos,
    timeout: duration,
  },
  required: ['topic'],
  additionalProperties: false,
};

const stepProperties = {
  name: { type: 'string', description: "Grouping name in the stats (Locust's name=). Defaults to the path without its query, or the topic with templates as +." },
  http: httpAction,
  publish: publishAction,
  subscribe: subscribeAction,
  command: commandAction,
  reply: replyAction,
  sparkplug: { type: 'string', enum: ['NDATA', 'DDATA'], description: "Publish the model's Sparkplug metrics: one NDATA, or a DDATA for each device of the node (a burst)." },
  repeat: { type: 'integer', minimum: 1, maximum: MAX_COUNT, description: 'Attempts in a row (a loop in a Locust task); {{ repeat.index }} counts from 0.' },
  sleep: { ...duration, description: 'Pause between attempts of the task (time.sleep in a Locust task); the wait model applies after the last.' },
  capture: {
    type: 'object',
    additionalProperties: { type: 'string', pattern: '^\\$', description: 'A path into the JSON response: $.access, $.items[0].id.' },
    description: 'Variables taken from a 2xx JSON response, used later as {{ vars.NAME }}; a missing value fails the attempt.',
  },
} satisfies Record<string, JsonSchema>;

const step: JsonSchema = {
  type: 'object',
  description: 'One action: http, publish or subscribe.',
  properties: stepProperties,
  additionalProperties: false,
};

const task: JsonSchema = {
  type: 'object',
  description: 'One action (http, publish or subscribe; optionally repeat/sleep/capture) or a sequence of steps.',
  properties: {
    ...stepProperties,
    weight: { type: 'number', minimum: 0, maximum: MAX_COUNT, description: 'Relative pick weight (default 1).' },
    every: { ...duration, description: 'Run this task on its own period, from a seeded phase, instead of picking by weight; then every task needs it.' },
    steps: { type: 'array', items: step, minItems: 1, description: 'Requests made in order, each with its own stats row.' },
  },
  additionalProperties: false,
};

const reaction: JsonSchema = {
  type: 'object',
  description: 'What the device does when a message arrives on a topic it subscribes to on connect.',
  properties: {
    topic: { type: 'string', description: 'Topic filter template, e.g. devices/{{ device.id }}/ota.' },
    qos,
    name: { type: 'string' },
    capture: { ...stepProperties.capture, description: 'Variables taken from the JSON message payload, used as {{ vars.NAME }}.' },
    steps: { type: 'array', items: step, minItems: 1, description: 'What runs per message; without steps the subscription only receives (and measures delivery), as a backend consumer does.' },
  },
  required: ['topic'],
  additionalProperties: false,
};

const mqttSession: JsonSchema = {
  type: 'object',
  description: "The device's MQTT session: one connection per device, reconnected with seeded backoff when lost.",
  properties: {
    clientId: { type: 'string', description: 'Client id template (default: {{ device.id }}).' },
    version: { type: ['string', 'number'], enum: ['3.1.1', '5', 5], description: 'MQTT protocol version (default 3.1.1).' },
    clean: { type: 'boolean', description: 'Clean session (3.1.1) / clean start (5); default true.' },
    keepalive: duration,
    sessionExpiry: { ...duration, description: 'MQTT 5 Session Expiry Interval: how long the broker keeps the session after a lost connection (default 1d with clean: false, else 0).' },
    keepSessionAtEnd: { type: 'boolean', description: "MQTT 5, clean: false: leave the session at the broker after the run's last DISCONNECT (default false: that DISCONNECT sets Session Expiry 0). An MQTT 3.1.1 DISCONNECT cannot end a session." },
    qos2Downgrade: { type: 'string', enum: ['accept', 'fail'], description: 'A QoS 2 publish the broker answers with PUBACK (RabbitMQ downgrades QoS 2 to 1): accept counts it as acked at QoS 1 (qosDowngrades), fail as a failure; the connection stays up (default accept).' },
    username: { type: 'string', description: 'Template; use {{ env.NAME }} for secrets.' },
    password: { type: 'string', description: 'Template; use {{ env.NAME }} so it never sits in the file.' },
    will: {
      type: 'object',
      properties: { topic: { type: 'string' }, payload: { type: 'string' }, qos, retain: { type: 'boolean' } },
      required: ['topic'],
      additionalProperties: false,
    },
    ackTimeout: { ...duration, description: 'Default time allowed for PUBACK/PUBCOMP/SUBACK (default 5s).' },
    userProperties: { ...userProperties, description: 'MQTT 5 CONNECT user properties: name to template, rendered per device.' },
    receiveMaximum: { type: 'integer', minimum: 1, maximum: 65535, description: 'MQTT 5 Receive Maximum: QoS 1/2 messages the broker may have unacknowledged to this device.' },
    processing: { ...duration, description: 'Time spent on each QoS 1/2 message received before acknowledging it, one message at a time: a slow consumer (default 0).' },
    connectTimeout: { ...duration, description: 'Time allowed from CONNECT to CONNACK, connection included (default 10s).' },
    reconnect: {
      type: 'object',
      description: 'Exponential backoff between reconnect attempts, with seeded jitter.',
      properties: {
        min: duration,
        max: duration,
        multiplier: { type: 'number', minimum: 1, maximum: 1000 },
        jitter: { type: 'number', minimum: 0, maximum: 1, description: 'Fraction of each delay drawn at random (default 0.5).' },
      },
      additionalProperties: false,
    },
  },
  additionalProperties: false,
};

export const deviceModelSchema: JsonSchema = {
  $schema: 'https://json-schema.org/draft/2020-12/schema',
  $id: 'fleetsim/device.schema.json',
  title: 'fleetsim device model',
  description: 'What one virtual device does: its identity, boot tasks, weighted tasks and wait model.',
  type: 'object',
  properties: {
    kind: { type: 'string', enum: ['device'] },
    name: { type: 'string', pattern: '^[A-Za-z0-9_.-]+$' },
    description: { type: 'string' },
    identity: {
      type: 'object',
      properties: {
        scheme: { type: 'string', enum: ['hex48', 'sequential-hex', 'pattern', 'data'] },
        column: { type: 'string', description: "The data scheme: the column of the fleet entry's data file that holds each device's id." },
        prefix: { type: 'string' },
        base: { type: 'string', pattern: '^0x[0-9a-fA-F]{1,12}$' },
        width: { type: 'integer', minimum: 1, maximum: 16 },
        pattern: { type: 'string' },
      },
      required: ['scheme'],
      additionalProperties: false,
    },
    http: {
      type: 'object',
      description: 'Defaults for every HTTP task of this model.',
      properties: { headers, timeout: duration },
      additionalProperties: false,
    },
    mqtt: mqttSession,
    sparkplug: sparkplugSchema,
    network: networkSchema,
    lifecycle: lifecycleSchema,
    auth: {
      type: 'object',
      description: "A token lifecycle: the login step's captures are the device's credentials; on an HTTP 401 the device logs in again once and retries the request once (counted as NAME (re-auth)); with an expiry it renews them ahead of time.",
      properties: {
        login: { type: 'string', description: 'The name of the HTTP step (in boot or tasks) that logs in; it must capture the credentials.' },
        refresh: { type: 'string', description: 'The name of the HTTP step that renews the credentials before they expire (needs expiresIn, jwt or ttl). Without it the device logs in again instead.' },
        expiresIn: { type: 'string', pattern: '^\\$', description: 'Path into the login/refresh response giving the lifetime in seconds, e.g. $.expires_in.' },
        jwt: { type: 'string', description: "A captured variable holding a JWT: its exp claim says when it expires." },
        ttl: { ...duration, description: 'The credentials\' lifetime, when the server does not say.' },
        refreshBefore: { ...duration, description: 'Renew this long before expiry (default: a fifth of the lifetime, at least 1s, at most half of it).' },
      },
      required: ['login'],
      additionalProperties: false,
    },
    boot: { type: 'array', items: task, description: "Tasks run once, in order, when the device starts (Locust's on_start)." },
    tasks: { type: 'array', items: task, minItems: 1, description: 'What the device does, picked by weight or each on its own period. A device without tasks only listens (its on: subscriptions).' },
    on: { type: 'array', items: reaction, description: 'Reactions to downlink messages.' },
    wait: {
      type: 'object',
      properties: {
        model: { type: 'string', enum: ['constant', 'between', 'pacing', 'throughput'] },
        time: duration,
        min: duration,
        max: duration,
        interval: duration,
        perSecond: { type: 'number', exclusiveMinimum: 0, maximum: MAX_COUNT },
      },
      required: ['model'],
      additionalProperties: false,
    },
  },
  required: ['name'],
  additionalProperties: false,
};

/** The client side of TLS: a CA to trust, a certificate and key to present, or trust anything. */
function clientTls(description: string, fields: Readonly<Record<'ca' | 'cert' | 'key' | 'insecure', string>>): JsonSchema {
  return {
    type: 'object',
    description,
    properties: {
      ca: { type: 'string', description: fields.ca },
      cert: { type: 'string', description: fields.cert },
      key: { type: 'string', description: fields.key },
      insecure: { type: 'boolean', description: fields.insecure },
    },
    additionalProperties: false,
  };
}

export const profileSchema: JsonSchema = {
  $schema: 'https://json-schema.org/draft/2020-12/schema',
  $id: 'fleetsim/profile.schema.json',
  title: 'fleetsim run profile',
  description: 'A run: which device models, how many, against which target, for how long.',
  type: 'object',
  properties: {
    kind: { type: 'string', enum: ['profile'] },
    name: { type: 'string' },
    description: { type: 'string' },
    seed: {
      type: ['string', 'integer'],
      minimum: -Number.MAX_SAFE_INTEGER,
      maximum: Number.MAX_SAFE_INTEGER,
      description: 'Any text, or an integer within ±(2^53 - 1): a YAML number beyond that loses digits, so quote it ("12345678901234567890") to keep them.',
    },
    target: { type: 'string', pattern: '^https?://', description: 'HTTP base URL; omitted, the embedded fixture is started.' },
    broker: { type: 'string', pattern: '^(mqtts?|wss?)://', description: 'MQTT broker URL (mqtt://, mqtts://, or ws:// / wss:// with a path for MQTT over WebSocket); omitted, the embedded broker is started.' },
    fleet: {
      type: 'array',
      minItems: 1,
      items: {
        type: 'object',
        properties: {
          device: { type: 'string', description: 'Path of a device model, relative to this profile.' },
          count: { type: 'integer', minimum: 0, maximum: MAX_DEVICES, description: `Devices of this model (the fleet's counts together at most ${MAX_DEVICES}).` },
          data: {
            type: 'object',
            description: "Per-device data: row i of the file goes to this entry's device i; templates read {{ data.COLUMN }}.",
            properties: {
              file: { type: 'string', description: 'A .csv file with a header line, or .ndjson with one JSON object a line; relative to this profile.' },
              secret: { type: 'array', items: { type: 'string' }, description: 'Columns whose values are secrets: the request log shows {{ data.COLUMN }} in their place.' },
            },
            required: ['file'],
            additionalProperties: false,
          },
          network: { ...networkSchema, description: `${networkSchema.description ?? ''} Set here, it replaces the model's for this entry's devices.` },
        },
        required: ['device', 'count'],
        additionalProperties: false,
      },
    },
    spawnRate: { type: 'number', exclusiveMinimum: 0, maximum: MAX_SPAWN_RATE, description: 'Devices started per second (shorthand for spawn.rate).' },
    spawn: {
      type: 'object',
      description: 'How the devices start: at a rate, or all in the same tick (a boot storm).',
      properties: {
        rate: { type: 'number', exclusiveMinimum: 0, maximum: MAX_SPAWN_RATE, description: 'Devices started per second (mode rate).' },
        mode: { type: 'string', enum: ['rate', 'all-at-once'], description: 'rate (default) or all-at-once: every device starts in the same tick.' },
      },
      additionalProperties: false,
    },
    stages: {
      type: 'array',
      minItems: 1,
      description: "The load shape, k6 style: each stage moves the device count linearly to its target over its duration; the run lasts their sum. Replaces duration, iterations and spawn.",
      items: {
        type: 'object',
        properties: {
          duration: { ...duration, description: 'How long the stage lasts (above 0).' },
          devices: { type: 'integer', minimum: 0, maximum: MAX_DEVICES, description: 'Devices running at the end of the stage.' },
        },
        required: ['duration', 'devices'],
        additionalProperties: false,
      },
    },
    duration,
    iterations: { type: 'integer', minimum: 1, maximum: MAX_COUNT, description: 'Tasks each device runs after boot, then stops.' },
    drainTimeout: duration,
    http: {
      type: 'object',
      properties: {
        connections: { type: 'integer', minimum: 1, maximum: MAX_CONNECTIONS, description: 'Connections per origin in the shared pool.' },
        connectionPerDevice: { type: 'boolean' },
        timeout: duration,
        tls: clientTls('For https:// targets. Paths are relative to this profile; cert and key may be templates ({{ device.id }}, {{ data.cert }}) so each device presents its own certificate, over its own connections.', {
          ca: 'PEM file of the CA that signed the server certificate (a private CA).',
          cert: 'PEM client certificate path (mutual TLS; a template); needs key.',
          key: 'PEM private key path of the client certificate (a template).',
          insecure: 'Accept any server certificate (testing only).',
        }),
      },
      additionalProperties: false,
    },
    mqtt: {
      type: 'object',
      properties: {
        tls: clientTls('For mqtts:// brokers. Paths are relative to this profile; cert and key may be templates ({{ device.id }}, {{ data.cert }}) so each device has its own.', {
          ca: 'PEM file of the CA that signed the broker certificate.',
          cert: 'PEM client certificate path (template); needs key.',
          key: 'PEM private key path (template).',
          insecure: 'Accept any broker certificate (testing only).',
        }),
      },
      additionalProperties: false,
    },
    thresholds: { type: 'array', items: { type: 'string' } },
    events: fleetEventsSchema,
    minDelivered: {
      type: 'string',
      description: "The share of the offered load a run must deliver for its verdict to be about the target (default 95%); 'off' turns the check off. Below it the run fails (the target's limit, exit 99) or is inconclusive (fleetsim's or the machine's, exit 98).",
    },
  },
  required: ['fleet'],
  additionalProperties: false,
};

export interface SchemaViolation {
  readonly path: readonly (string | number)[];
  readonly message: string;
  /** Set when the violation is about a key that should not be there, so the key itself is pointed at. */
  readonly atKey?: boolean;
}

function typeOf(value: unknown): string {
  if (value === null) return 'null';
  if (Array.isArray(value)) return 'array';
  if (typeof value === 'number' && Number.isInteger(value)) return 'integer';
  return typeof value;
}

/** "an array", "an integer", "a string", "a string or integer", "null". */
function withArticle(type: string): string {
  if (type === 'null' || type === 'undefined') return type;
  return `${/^[aeiou]/.test(type) ? 'an' : 'a'} ${type}`;
}

function matchesType(value: unknown, type: NonNullable<JsonSchema['type']>): boolean {
  const actual = typeOf(value);
  const accepted = typeof type === 'string' ? [type] : type;
  return accepted.some((t) => t === actual || (t === 'number' && actual === 'integer'));
}

/** Returns the first violation found, depth first in document order, or undefined. */
export function validateAgainst(schema: JsonSchema, value: unknown, path: (string | number)[] = []): SchemaViolation | undefined {
  if (schema.type && !matchesType(value, schema.type)) {
    const expected = typeof schema.type === 'string' ? schema.type : schema.type.join(' or ');
    return { path, message: `must be ${withArticle(expected)}, got ${withArticle(typeOf(value))}` };
  }
  if (schema.enum && !schema.enum.includes(value as string | number)) {
    return { path, message: `must be one of ${schema.enum.map((e) => JSON.stringify(e)).join(', ')}, got ${JSON.stringify(value)}` };
  }
  if (typeof value === 'string' && schema.pattern && !new RegExp(schema.pattern).test(value)) {
    return { path, message: `${JSON.stringify(value)} does not match the expected form${schema.description ? ` (${schema.description})` : ` ${schema.pattern}`}` };
  }
  if (typeof value === 'number') {
    // Past the bounds a value's own limits matter (a seed's exactness): the description says them.
    const textOrInteger = Array.isArray(schema.type) && schema.type.includes('string') && schema.type.includes('integer');
    const why = schema.description && textOrInteger ? ` (${schema.description})` : '';
    if (schema.minimum !== undefined && value < schema.minimum) return { path, message: `must be at least ${schema.minimum}, got ${value}${why}` };
    if (schema.exclusiveMinimum !== undefined && value <= schema.exclusiveMinimum) return { path, message: `must be greater than ${schema.exclusiveMinimum}, got ${value}` };
    if (schema.maximum !== undefined && value > schema.maximum) return { path, message: `must be at most ${schema.maximum}, got ${value}${why}` };
  }
  if (Array.isArray(value)) {
    if (schema.minItems !== undefined && value.length < schema.minItems) return { path, message: `needs at least ${schema.minItems} item${schema.minItems === 1 ? '' : 's'}` };
    if (schema.items) {
      for (let i = 0; i < value.length; i++) {
        const found = validateAgainst(schema.items, value[i], [...path, i]);
        if (found) return found;
      }
    }
  } else if (value !== null && typeof value === 'object') {
    const record = value as Record<string, unknown>;
    const properties = schema.properties ?? {};
    for (const [key, item] of Object.entries(record)) {
      // Own keys only: `constructor` or `__proto__` must not find Object.prototype's members.
      const propertySchema = Object.hasOwn(properties, key) ? properties[key] : undefined;
      if (propertySchema) {
        const found = validateAgainst(propertySchema, item, [...path, key]);
        if (found) return found;
      } else if (schema.additionalProperties === false) {
        const known = Object.keys(properties);
        const guess = closest(key, known);
        return { path: [...path, key], atKey: true, message: guess ? `unknown field '${key}': did you mean '${guess}'?` : `unknown field '${key}'${known.length ? ` (expected one of: ${known.join(', ')})` : ''}` };
      } else if (typeof schema.additionalProperties === 'object') {
        const found = validateAgainst(schema.additionalProperties, item, [...path, key]);
        if (found) return found;
      }
    }
    for (const key of schema.required ?? []) {
      if (!Object.hasOwn(record, key)) return { path, message: `missing required field '${key}'` };
    }
  }
  return undefined;
}
