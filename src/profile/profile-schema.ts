import { Type } from '@sinclair/typebox';
import type { Static } from '@sinclair/typebox';
import { MAX_CONNECTIONS, MAX_COUNT, MAX_DEVICES, MAX_SPAWN_RATE } from './limits.ts';
import { NETWORK_DESCRIPTION, networkSchema } from './network-schema.ts';
import { fleetEventsSchema } from './lifecycle-schema.ts';
import { duration, oneOf } from './schema-kit.ts';

/**
 * The run profile, declared once: the published schema/profile.schema.json, the load-time check
 * and the types load.ts reads all come from here.
 */

/** The client side of TLS: a CA to trust, a certificate and key to present, or trust anything. */
function clientTls(description: string, fields: Readonly<Record<'ca' | 'cert' | 'key' | 'insecure', string>>) {
  return Type.Object(
    {
      ca: Type.Optional(Type.String({ description: fields.ca })),
      cert: Type.Optional(Type.String({ description: fields.cert })),
      key: Type.Optional(Type.String({ description: fields.key })),
      insecure: Type.Optional(Type.Boolean({ description: fields.insecure })),
    },
    { description, additionalProperties: false },
  );
}

const fleetEntry = Type.Object(
  {
    device: Type.String({ description: 'Path of a device model, relative to this profile.' }),
    count: Type.Integer({ minimum: 0, maximum: MAX_DEVICES, description: `Devices of this model (the fleet's counts together at most ${MAX_DEVICES}).` }),
    data: Type.Optional(
      Type.Object(
        {
          file: Type.String({ description: 'A .csv file with a header line, or .ndjson with one JSON object a line; relative to this profile.' }),
          secret: Type.Optional(Type.Array(Type.String(), { description: 'Columns whose values are secrets: the request log shows {{ data.COLUMN }} in their place.' })),
        },
        { description: "Per-device data: row i of the file goes to this entry's device i; templates read {{ data.COLUMN }}.", additionalProperties: false },
      ),
    ),
    network: Type.Optional(networkSchema(`${NETWORK_DESCRIPTION} Set here, it replaces the model's for this entry's devices.`)),
  },
  { additionalProperties: false },
);

const stage = Type.Object(
  {
    duration: duration('How long the stage lasts (above 0).'),
    devices: Type.Integer({ minimum: 0, maximum: MAX_DEVICES, description: 'Devices running at the end of the stage.' }),
  },
  { additionalProperties: false },
);

const httpSettings = Type.Object(
  {
    connections: Type.Optional(Type.Integer({ minimum: 1, maximum: MAX_CONNECTIONS, description: 'Connections per origin in the shared pool.' })),
    connectionPerDevice: Type.Optional(Type.Boolean()),
    client: Type.Optional(
      Type.Union([Type.Literal('undici'), Type.Literal('native')], {
        description: "The HTTP/1.1 client: native, fleetsim's own (the default: cheaper per request), or undici; the same connecting, TLS, timeouts and results.",
      }),
    ),
    timeout: Type.Optional(duration()),
    tls: Type.Optional(
      clientTls(
        'For https:// targets. Paths are relative to this profile; cert and key may be templates ({{ device.id }}, {{ data.cert }}) so each device presents its own certificate, over its own connections.',
        {
          ca: 'PEM file of the CA that signed the server certificate (a private CA).',
          cert: 'PEM client certificate path (mutual TLS; a template); needs key.',
          key: 'PEM private key path of the client certificate (a template).',
          insecure: 'Accept any server certificate (testing only).',
        },
      ),
    ),
  },
  { additionalProperties: false },
);

const mqttSettings = Type.Object(
  {
    tls: Type.Optional(
      clientTls('For mqtts:// brokers. Paths are relative to this profile; cert and key may be templates ({{ device.id }}, {{ data.cert }}) so each device has its own.', {
        ca: 'PEM file of the CA that signed the broker certificate.',
        cert: 'PEM client certificate path (template); needs key.',
        key: 'PEM private key path (template).',
        insecure: 'Accept any broker certificate (testing only).',
      }),
    ),
  },
  { additionalProperties: false },
);

export const profileSchema = Type.Object(
  {
    kind: Type.Optional(oneOf(['profile'])),
    name: Type.Optional(Type.String()),
    description: Type.Optional(Type.String()),
    seed: Type.Optional(
      Type.Unsafe<string | number>({
        type: ['string', 'integer'],
        minimum: -Number.MAX_SAFE_INTEGER,
        maximum: Number.MAX_SAFE_INTEGER,
        description: 'Any text, or an integer within ±(2^53 - 1): a YAML number beyond that loses digits, so quote it ("12345678901234567890") to keep them.',
      }),
    ),
    target: Type.Optional(Type.String({ pattern: '^https?://', description: 'HTTP base URL; omitted, the embedded fixture is started.' })),
    broker: Type.Optional(
      Type.String({
        pattern: '^(mqtts?|wss?)://',
        description: 'MQTT broker URL (mqtt://, mqtts://, or ws:// / wss:// with a path for MQTT over WebSocket); omitted, the embedded broker is started.',
      }),
    ),
    fleet: Type.Array(fleetEntry, { minItems: 1 }),
    spawnRate: Type.Optional(Type.Number({ exclusiveMinimum: 0, maximum: MAX_SPAWN_RATE, description: 'Devices started per second (shorthand for spawn.rate).' })),
    spawn: Type.Optional(
      Type.Object(
        {
          rate: Type.Optional(Type.Number({ exclusiveMinimum: 0, maximum: MAX_SPAWN_RATE, description: 'Devices started per second (mode rate).' })),
          mode: Type.Optional(oneOf(['rate', 'all-at-once'], { description: 'rate (default) or all-at-once: every device starts in the same tick.' })),
        },
        { description: 'How the devices start: at a rate, or all in the same tick (a boot storm).', additionalProperties: false },
      ),
    ),
    stages: Type.Optional(
      Type.Array(stage, {
        minItems: 1,
        description: 'The load shape, k6 style: each stage moves the device count linearly to its target over its duration; the run lasts their sum. Replaces duration, iterations and spawn.',
      }),
    ),
    duration: Type.Optional(duration()),
    iterations: Type.Optional(Type.Integer({ minimum: 1, maximum: MAX_COUNT, description: 'Tasks each device runs after boot, then stops.' })),
    drainTimeout: Type.Optional(duration()),
    http: Type.Optional(httpSettings),
    mqtt: Type.Optional(mqttSettings),
    thresholds: Type.Optional(Type.Array(Type.String())),
    events: Type.Optional(fleetEventsSchema),
    minDelivered: Type.Optional(
      Type.String({
        description:
          "The share of the offered load a run must deliver for its verdict to be about the target (default 95%); 'off' turns the check off. Below it the run fails (the target's limit, exit 99) or is inconclusive (fleetsim's or the machine's, exit 98).",
      }),
    ),
  },
  {
    $schema: 'https://json-schema.org/draft/2020-12/schema',
    $id: 'fleetsim/profile.schema.json',
    title: 'fleetsim run profile',
    description: 'A run: which device models, how many, against which target, for how long.',
    additionalProperties: false,
  },
);

export type ProfileDoc = Static<typeof profileSchema>;
export type FleetEntryDoc = Static<typeof fleetEntry>;
export type ClientTlsDoc = Static<ReturnType<typeof clientTls>>;
