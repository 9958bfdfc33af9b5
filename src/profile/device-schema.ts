import { Type } from '@sinclair/typebox';
import type { Static } from '@sinclair/typebox';
import { MAX_COUNT } from './limits.ts';
import { sparkplugSchema } from './sparkplug-schema.ts';
import { networkSchema } from './network-schema.ts';
import { lifecycleSchema } from './lifecycle-schema.ts';
import { duration, oneOf } from './schema-kit.ts';

/**
 * The device model, declared once: the published schema/device.schema.json, the load-time check
 * (schema.ts walks these objects, which are JSON Schema) and the types the compiler reads
 * (`Static<>`) all come from here.
 */

const headers = Type.Record(Type.String(), Type.String(), { description: 'Header name to template.' });

const httpAction = Type.Object(
  {
    method: Type.Optional(oneOf(['GET', 'POST', 'PUT', 'PATCH', 'DELETE', 'HEAD', 'OPTIONS'])),
    path: Type.String({ pattern: '^/', description: 'Path and query, a template; starts with /.' }),
    headers: Type.Optional(headers),
    json: Type.Optional(Type.Unknown({ description: 'A JSON body whose string leaves are templates; a leaf that is one {{ }} keeps its type.' })),
    body: Type.Optional(Type.String({ description: 'A raw body template.' })),
    timeout: Type.Optional(duration()),
    expectStatus: Type.Optional(
      Type.Array(Type.Integer({ minimum: 100, maximum: 599 }), {
        minItems: 1,
        description: 'Statuses that count as success (default: any 2xx), e.g. [200, 404] for a lookup that may miss.',
      }),
    ),
  },
  { description: 'An HTTP request against the run target.', additionalProperties: false },
);

const qos = () => Type.Optional(oneOf([0, 1, 2], { description: 'MQTT quality of service.' }));

const userProperties = (description = 'MQTT 5 user properties: name to template.') => Type.Record(Type.String(), Type.String(), { description });

const ackTimeout = () => Type.Optional(duration("QoS 1/2: time allowed for PUBACK/PUBCOMP before the publish counts as timed out (default: the model's mqtt.ackTimeout)."));

/** The payload keys a publish, a command and a reply share; one of them at most. */
const payloadProperties = {
  json: Type.Optional(Type.Unknown({ description: 'A JSON payload whose string leaves are templates; a leaf that is one {{ }} keeps its type.' })),
  payload: Type.Optional(Type.String({ description: 'A raw payload template.' })),
  protobuf: Type.Optional(
    Type.Object(
      {
        file: Type.String({ description: 'The .proto file, relative to this model.' }),
        type: Type.String({ description: 'The message type, with its package: fleet.Telemetry.' }),
        fields: Type.Optional(Type.Record(Type.String(), Type.Unknown(), { description: 'Field name to value; string leaves are templates, nested messages are objects.' })),
      },
      { description: "A protobuf message of the user's .proto file; the type is resolved once, the fields' templates rendered per publish.", additionalProperties: false },
    ),
  ),
  cbor: Type.Optional(Type.Unknown({ description: 'A CBOR payload: a document whose string leaves are templates; a leaf that is one {{ }} keeps its type.' })),
  hex: Type.Optional(Type.String({ description: 'Raw bytes as a hex template, e.g. 01ff{{ ... }}.' })),
  base64: Type.Optional(Type.String({ description: 'Raw bytes as a base64 template.' })),
};

const publishProperties = Type.Object(
  {
    messageExpiry: Type.Optional(duration('Message Expiry Interval (whole seconds).')),
    contentType: Type.Optional(Type.String()),
    responseTopic: Type.Optional(Type.String()),
    correlationData: Type.Optional(Type.String({ description: 'Sent as binary data (the UTF-8 bytes of the rendered template).' })),
    user: Type.Optional(userProperties()),
  },
  { description: 'MQTT 5 PUBLISH properties; string values are templates rendered per publish.', additionalProperties: false },
);

const publishAction = Type.Object(
  {
    topic: Type.String({ description: 'Topic template, e.g. devices/{{ device.id }}/lamp/changed.' }),
    ...payloadProperties,
    qos: qos(),
    retain: Type.Optional(Type.Boolean()),
    ackTimeout: ackTimeout(),
    delivery: Type.Optional(
      oneOf(['payload', 'property'], {
        description:
          'Measure delivery to subscribers: a header (device, seq, send time) as a 20-byte payload prefix, or (MQTT 5) as the user property fleetsim-delivery. Subscribers in the run report DELIVER rows and lost, duplicated and out-of-order counts.',
      }),
    ),
    properties: Type.Optional(publishProperties),
  },
  {
    description: "An MQTT PUBLISH on the device's session. With repeat, the publishes go out back to back (a burst) and the step ends when each is acked, timed out or failed.",
    additionalProperties: false,
  },
);

const commandAction = Type.Object(
  {
    to: Type.String({
      description: "The name of the device model (in this profile's fleet) whose devices receive the commands, in turn; {{ target.id }} and {{ target.index }} are the device the command goes to.",
    }),
    topic: Type.String({ description: 'Command topic template, e.g. devices/{{ target.id }}/cmd.' }),
    ...payloadProperties,
    qos: qos(),
    timeout: Type.Optional(duration("Time allowed from the command's PUBLISH to its reply (default: the model's mqtt.ackTimeout); a later reply counts as late, never as a success.")),
    replyTopic: Type.Optional(
      Type.String({
        description:
          "Where replies arrive, subscribed on every connect (default fleetsim/replies/{{ device.id }}). MQTT 5: sent as each command's Response Topic (a topic name). MQTT 3.1.1: a filter, e.g. devices/+/cmd/reply.",
      }),
    ),
    correlate: Type.Optional(
      Type.String({
        pattern: '^\\$',
        description:
          "The command id, a path into the command's JSON and the reply's (e.g. $.id); needed on MQTT 3.1.1. Without it (MQTT 5) fleetsim sets each command's Correlation Data and matches the reply's.",
      }),
    ),
  },
  {
    description:
      'A command to another device of the run (cloud to device), timed from its PUBLISH to the reply: a COMMAND row with timeouts, late replies and lost commands. The commands go to the devices of model `to`, one after another.',
    additionalProperties: false,
  },
);

const replyAction = Type.Object(
  { ...payloadProperties, qos: qos(), ackTimeout: ackTimeout() },
  { description: "MQTT 5, in a reaction: a PUBLISH to the received message's Response Topic, with its Correlation Data echoed.", additionalProperties: false },
);

const subscribeAction = Type.Object(
  {
    topic: Type.String({ description: 'Topic filter template; + and # allowed.' }),
    qos: qos(),
    timeout: Type.Optional(duration()),
  },
  { description: "An MQTT SUBSCRIBE on the device's session, timed to its SUBACK.", additionalProperties: false },
);

const captures = (description: string) => Type.Record(Type.String(), Type.String({ pattern: '^\\$', description: 'A path into the JSON response: $.access, $.items[0].id.' }), { description });

const stepProperties = {
  name: Type.Optional(Type.String({ description: "Grouping name in the stats (Locust's name=). Defaults to the path without its query, or the topic with templates as +." })),
  http: Type.Optional(httpAction),
  publish: Type.Optional(publishAction),
  subscribe: Type.Optional(subscribeAction),
  command: Type.Optional(commandAction),
  reply: Type.Optional(replyAction),
  sparkplug: Type.Optional(oneOf(['NDATA', 'DDATA'], { description: "Publish the model's Sparkplug metrics: one NDATA, or a DDATA for each device of the node (a burst)." })),
  repeat: Type.Optional(Type.Integer({ minimum: 1, maximum: MAX_COUNT, description: 'Attempts in a row (a loop in a Locust task); {{ repeat.index }} counts from 0.' })),
  sleep: Type.Optional(duration('Pause between attempts of the task (time.sleep in a Locust task); the wait model applies after the last.')),
  capture: Type.Optional(captures('Variables taken from a 2xx JSON response, used later as {{ vars.NAME }}; a missing value fails the attempt.')),
};

const step = Type.Object(stepProperties, { description: 'One action: http, publish or subscribe.', additionalProperties: false });

const task = Type.Object(
  {
    ...stepProperties,
    weight: Type.Optional(Type.Number({ minimum: 0, maximum: MAX_COUNT, description: 'Relative pick weight (default 1).' })),
    every: Type.Optional(duration('Run this task on its own period, from a seeded phase, instead of picking by weight; then every task needs it.')),
    steps: Type.Optional(Type.Array(step, { minItems: 1, description: 'Requests made in order, each with its own stats row.' })),
  },
  { description: 'One action (http, publish or subscribe; optionally repeat/sleep/capture) or a sequence of steps.', additionalProperties: false },
);

const reaction = Type.Object(
  {
    topic: Type.String({ description: 'Topic filter template, e.g. devices/{{ device.id }}/ota.' }),
    qos: qos(),
    name: Type.Optional(Type.String()),
    capture: Type.Optional(captures('Variables taken from the JSON message payload, used as {{ vars.NAME }}.')),
    steps: Type.Optional(Type.Array(step, { minItems: 1, description: 'What runs per message; without steps the subscription only receives (and measures delivery), as a backend consumer does.' })),
  },
  { description: 'What the device does when a message arrives on a topic it subscribes to on connect.', additionalProperties: false },
);

const mqttSession = Type.Object(
  {
    clientId: Type.Optional(Type.String({ description: 'Client id template (default: {{ device.id }}).' })),
    version: Type.Optional(oneOf(['3.1.1', '5', 5], { type: ['string', 'number'], description: 'MQTT protocol version (default 3.1.1).' })),
    clean: Type.Optional(Type.Boolean({ description: 'Clean session (3.1.1) / clean start (5); default true.' })),
    keepalive: Type.Optional(duration()),
    sessionExpiry: Type.Optional(duration('MQTT 5 Session Expiry Interval: how long the broker keeps the session after a lost connection (default 1d with clean: false, else 0).')),
    keepSessionAtEnd: Type.Optional(
      Type.Boolean({
        description:
          "MQTT 5, clean: false: leave the session at the broker after the run's last DISCONNECT (default false: that DISCONNECT sets Session Expiry 0). An MQTT 3.1.1 DISCONNECT cannot end a session.",
      }),
    ),
    qos2Downgrade: Type.Optional(
      oneOf(['accept', 'fail'], {
        description:
          'A QoS 2 publish the broker answers with PUBACK (RabbitMQ downgrades QoS 2 to 1): accept counts it as acked at QoS 1 (qosDowngrades), fail as a failure; the connection stays up (default accept).',
      }),
    ),
    username: Type.Optional(Type.String({ description: 'Template; use {{ env.NAME }} for secrets.' })),
    password: Type.Optional(Type.String({ description: 'Template; use {{ env.NAME }} so it never sits in the file.' })),
    will: Type.Optional(Type.Object({ topic: Type.String(), payload: Type.Optional(Type.String()), qos: qos(), retain: Type.Optional(Type.Boolean()) }, { additionalProperties: false })),
    ackTimeout: Type.Optional(duration('Default time allowed for PUBACK/PUBCOMP/SUBACK (default 5s).')),
    userProperties: Type.Optional(userProperties('MQTT 5 CONNECT user properties: name to template, rendered per device.')),
    receiveMaximum: Type.Optional(Type.Integer({ minimum: 1, maximum: 65535, description: 'MQTT 5 Receive Maximum: QoS 1/2 messages the broker may have unacknowledged to this device.' })),
    processing: Type.Optional(duration('Time spent on each QoS 1/2 message received before acknowledging it, one message at a time: a slow consumer (default 0).')),
    connectTimeout: Type.Optional(duration('Time allowed from CONNECT to CONNACK, connection included (default 10s).')),
    reconnect: Type.Optional(
      Type.Object(
        {
          min: Type.Optional(duration()),
          max: Type.Optional(duration()),
          multiplier: Type.Optional(Type.Number({ minimum: 1, maximum: 1000 })),
          jitter: Type.Optional(Type.Number({ minimum: 0, maximum: 1, description: 'Fraction of each delay drawn at random (default 0.5).' })),
        },
        { description: 'Exponential backoff between reconnect attempts, with seeded jitter.', additionalProperties: false },
      ),
    ),
  },
  { description: "The device's MQTT session: one connection per device, reconnected with seeded backoff when lost.", additionalProperties: false },
);

const identity = Type.Object(
  {
    scheme: oneOf(['hex48', 'sequential-hex', 'pattern', 'data']),
    column: Type.Optional(Type.String({ description: "The data scheme: the column of the fleet entry's data file that holds each device's id." })),
    prefix: Type.Optional(Type.String()),
    base: Type.Optional(Type.String({ pattern: '^0x[0-9a-fA-F]{1,12}$' })),
    width: Type.Optional(Type.Integer({ minimum: 1, maximum: 16 })),
    pattern: Type.Optional(Type.String()),
  },
  { additionalProperties: false },
);

const auth = Type.Object(
  {
    login: Type.String({ description: 'The name of the HTTP step (in boot or tasks) that logs in; it must capture the credentials.' }),
    refresh: Type.Optional(
      Type.String({ description: 'The name of the HTTP step that renews the credentials before they expire (needs expiresIn, jwt or ttl). Without it the device logs in again instead.' }),
    ),
    expiresIn: Type.Optional(Type.String({ pattern: '^\\$', description: 'Path into the login/refresh response giving the lifetime in seconds, e.g. $.expires_in.' })),
    jwt: Type.Optional(Type.String({ description: 'A captured variable holding a JWT: its exp claim says when it expires.' })),
    ttl: Type.Optional(duration("The credentials' lifetime, when the server does not say.")),
    refreshBefore: Type.Optional(duration('Renew this long before expiry (default: a fifth of the lifetime, at least 1s, at most half of it).')),
  },
  {
    description:
      "A token lifecycle: the login step's captures are the device's credentials; on an HTTP 401 the device logs in again once and retries the request once (counted as NAME (re-auth)); with an expiry it renews them ahead of time.",
    additionalProperties: false,
  },
);

const wait = Type.Object(
  {
    model: oneOf(['constant', 'between', 'pacing', 'throughput']),
    time: Type.Optional(duration()),
    min: Type.Optional(duration()),
    max: Type.Optional(duration()),
    interval: Type.Optional(duration()),
    perSecond: Type.Optional(Type.Number({ exclusiveMinimum: 0, maximum: MAX_COUNT })),
  },
  { additionalProperties: false },
);

export const deviceModelSchema = Type.Object(
  {
    kind: Type.Optional(oneOf(['device'])),
    name: Type.String({ pattern: '^[A-Za-z0-9_.-]+$' }),
    description: Type.Optional(Type.String()),
    identity: Type.Optional(identity),
    http: Type.Optional(
      Type.Object({ headers: Type.Optional(headers), timeout: Type.Optional(duration()) }, { description: 'Defaults for every HTTP task of this model.', additionalProperties: false }),
    ),
    mqtt: Type.Optional(mqttSession),
    sparkplug: Type.Optional(sparkplugSchema),
    network: Type.Optional(networkSchema()),
    lifecycle: Type.Optional(lifecycleSchema),
    auth: Type.Optional(auth),
    boot: Type.Optional(Type.Array(task, { description: "Tasks run once, in order, when the device starts (Locust's on_start)." })),
    tasks: Type.Optional(
      Type.Array(task, { minItems: 1, description: 'What the device does, picked by weight or each on its own period. A device without tasks only listens (its on: subscriptions).' }),
    ),
    on: Type.Optional(Type.Array(reaction, { description: 'Reactions to downlink messages.' })),
    wait: Type.Optional(wait),
  },
  {
    $schema: 'https://json-schema.org/draft/2020-12/schema',
    $id: 'fleetsim/device.schema.json',
    title: 'fleetsim device model',
    description: 'What one virtual device does: its identity, boot tasks, weighted tasks and wait model.',
    additionalProperties: false,
  },
);

export type DeviceModelDoc = Static<typeof deviceModelSchema>;
export type HttpDoc = Static<typeof httpAction>;
export type HttpDefaultsDoc = NonNullable<DeviceModelDoc['http']>;
export type PayloadDoc = Static<typeof replyAction>;
export type ProtobufDoc = NonNullable<PayloadDoc['protobuf']>;
export type PublishDoc = Static<typeof publishAction>;
export type PublishPropertiesDoc = Static<typeof publishProperties>;
export type CommandDoc = Static<typeof commandAction>;
export type ReplyDoc = Static<typeof replyAction>;
export type SubscribeDoc = Static<typeof subscribeAction>;
export type CapturesDoc = Static<ReturnType<typeof captures>>;
export type StepDoc = Static<typeof step>;
export type TaskDoc = Static<typeof task>;
export type ReactionDoc = Static<typeof reaction>;
export type MqttSessionDoc = Static<typeof mqttSession>;
export type IdentityDoc = Static<typeof identity>;
export type AuthDoc = Static<typeof auth>;
export type WaitDoc = Static<typeof wait>;
export type QosDoc = NonNullable<PublishDoc['qos']>;
