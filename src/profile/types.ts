import type { DataCheck } from '../template/data-checks.ts';
import type { IdentityScheme } from '../identity/device-id.ts';
import type { DataTable } from './data-file.ts';
import type { CompiledTemplate, JsonBodyRenderer } from '../template/compile.ts';
import type { TemplateContext } from '../template/context.ts';
import type { SparkplugDataKind, SparkplugSpec } from './sparkplug-spec.ts';
import type { NetworkMix } from './network-presets.ts';
import type { Lifecycle } from './lifecycle.ts';

/** How long a device waits between tasks (Locust's wait_time). */
export type WaitModel =
  | { readonly model: 'constant'; readonly timeMs: number }
  | { readonly model: 'between'; readonly minMs: number; readonly maxMs: number }
  /** Start a task every interval, whatever the task took (Locust's constant_pacing). */
  | { readonly model: 'pacing'; readonly intervalMs: number }
  /** Tasks per second per device (Locust's constant_throughput). */
  | { readonly model: 'throughput'; readonly perSecond: number };

export interface HttpAction {
  readonly kind: 'http';
  readonly method: string;
  readonly path: CompiledTemplate;
  /** Every header, the body's content type included unless the model sets its own. */
  readonly headers: readonly (readonly [string, CompiledTemplate])[];
  /** All headers, when none is a varying template. */
  readonly fixedHeaders: Readonly<Record<string, string>> | undefined;
  readonly body: JsonBodyRenderer | undefined;
  readonly timeoutMs: number;
  /** Statuses that count as success; undefined means any 2xx. */
  readonly expectStatus: ReadonlySet<number> | undefined;
}

/** Renders one payload: text (JSON, a raw template) or bytes (protobuf, CBOR, hex or base64). */
export type PayloadRenderer = (context: TemplateContext) => string | Buffer;

/** An MQTT PUBLISH on the device's session; `repeat` sends a burst without waiting for acks. */
export interface PublishAction {
  readonly kind: 'publish';
  readonly topic: CompiledTemplate;
  readonly payload: PayloadRenderer;
  /** A Sparkplug data message: the device's edge node renders topic and payload (with its seq), not the templates. */
  readonly sparkplug: SparkplugDataKind | undefined;
  /** How the request log shows a binary payload (decoded, as JSON); undefined shows it in hex. */
  readonly describe?: ((payload: Buffer) => string) | undefined;
  readonly qos: QoS;
  readonly retain: boolean;
  /** QoS 1/2: how long to wait for PUBACK/PUBCOMP before the publish counts as timed out. */
  readonly timeoutMs: number;
  /** MQTT 5 PUBLISH properties; undefined (the common case) costs nothing per publish. */
  readonly properties: PublishProperties | undefined;
  /** Delivery measurement: where the header (device, seq, send time) goes; undefined sends none. */
  readonly delivery: DeliveryHeaderMode | undefined;
  /**
   * A `reply` step of a reaction (MQTT 5): the topic is the message's Response Topic and its
   * Correlation Data goes back with the publish; `topic` is only the stats name.
   */
  readonly reply?: boolean;
}

/**
 * A command to another device of the run, timed to its reply: a PUBLISH to the target's command
 * topic that ends when the reply arrives on `replyTopic`, at the timeout, or when the PUBLISH fails.
 */
export interface CommandAction {
  readonly kind: 'command';
  /** The device model whose devices receive the commands, one after another; its devices' ids are `{{ target.id }}`. */
  readonly to: string;
  readonly topic: CompiledTemplate;
  readonly payload: PayloadRenderer;
  readonly describe?: ((payload: Buffer) => string) | undefined;
  readonly qos: QoS;
  /** How long the reply may take; a later one counts as late, never as a success. */
  readonly timeoutMs: number;
  /** Where replies arrive: subscribed on every connect; on MQTT 5 also each command's Response Topic. */
  readonly replyTopic: CompiledTemplate;
  /** The command id in the command's JSON and in the reply's (MQTT 3.1.1); undefined: MQTT 5 Correlation Data fleetsim sets. */
  /** The load error naming the `to` field, for a profile whose fleet lacks that model. */
  readonly toError: (problem: string) => Error;
  readonly correlate: { readonly expression: string; readonly path: readonly (string | number)[] } | undefined;
}

/** `payload`: a 20-byte binary prefix to the payload; `property`: an MQTT 5 user property. */
export type DeliveryHeaderMode = 'payload' | 'property';

/** MQTT 5 properties a device sets on its PUBLISHes; templates are rendered per publish. */
export interface PublishProperties {
  readonly messageExpiryS: number | undefined;
  readonly contentType: CompiledTemplate | undefined;
  readonly responseTopic: CompiledTemplate | undefined;
  readonly correlationData: CompiledTemplate | undefined;
  readonly userProperties: readonly (readonly [string, CompiledTemplate])[];
}

/** An MQTT SUBSCRIBE on the device's session, timed to its SUBACK. */
export interface SubscribeAction {
  readonly kind: 'subscribe';
  readonly topic: CompiledTemplate;
  readonly qos: QoS;
  readonly timeoutMs: number;
}

export type QoS = 0 | 1 | 2;

export type TaskAction = HttpAction | PublishAction | SubscribeAction | CommandAction;

/** The stats type of an action: the HTTP method, or the MQTT packet that starts it. */
export function actionType(action: TaskAction): string {
  if (action.kind === 'http') return action.method;
  if (action.kind === 'command') return 'COMMAND';
  return action.kind === 'publish' ? 'PUBLISH' : 'SUBSCRIBE';
}

/** Takes one value out of a JSON response into a per-device variable (`{{ vars.NAME }}`). */
export interface Capture {
  readonly variable: string;
  readonly slot: number;
  /** `$.access`, `$.items[0].id`, as written. */
  readonly expression: string;
  readonly path: readonly (string | number)[];
}

/** One request of a task, possibly repeated, with a pause after each attempt. */
export interface StepSpec {
  /** The grouping name in stats (Locust's `name=`). */
  readonly name: string;
  readonly action: TaskAction;
  readonly repeat: number;
  /** Pause after each attempt before the next one of the task (Locust's time.sleep inside a task). */
  readonly sleepMs: number;
  readonly captures: readonly Capture[];
}

export interface TaskSpec {
  readonly name: string;
  readonly weight: number;
  /** Runs on its own period (with a seeded phase) instead of being picked by weight. */
  readonly everyMs: number | undefined;
  /** Run in order; the wait model applies between tasks, not between steps. */
  readonly steps: readonly StepSpec[];
}

/** Where the device learns when its credentials expire. */
export type TokenExpiry =
  /** Seconds in the login or refresh response (`$.expires_in`). */
  | { readonly kind: 'response'; readonly expression: string; readonly path: readonly (string | number)[] }
  /** The `exp` claim of the JWT a captured variable holds. */
  /** `where`: file:line:column of `auth.jwt`, for the error when the captured value is not a JWT. */
  | { readonly kind: 'jwt'; readonly variable: string; readonly slot: number; readonly where: string }
  /** A lifetime the model states. */
  | { readonly kind: 'fixed'; readonly ms: number };

/** A token lifecycle: log in, renew before expiry, and on an HTTP 401 log in again and retry once. */
export interface AuthSpec {
  /** The step whose captures are the device's credentials. */
  readonly login: StepSpec;
  /** Renews them before they expire; without it the device logs in again instead. */
  readonly refresh: StepSpec | undefined;
  /** Undefined: the device renews nothing ahead and relies on re-authenticating after a 401. */
  readonly expiry: TokenExpiry | undefined;
  /** How long before expiry to renew; undefined means a fifth of the lifetime, at least 1 s (and at most half of it). */
  readonly refreshBeforeMs: number | undefined;
}

export interface DeviceModel {
  readonly name: string;
  readonly file: string;
  readonly identity: IdentityScheme;
  readonly boot: readonly TaskSpec[];
  readonly tasks: readonly TaskSpec[];
  readonly cumulativeWeights: Float64Array;
  readonly wait: WaitModel;
  /** Starting points of each random walk slot, as (min, max) pairs; the start is seeded per device. */
  readonly walkRanges: readonly (readonly [number, number])[];
  /** Names of the captured variables, by slot. */
  readonly variables: readonly string[];
  /** Columns of the data file its templates read (`{{ data.NAME }}`), by slot. */
  readonly dataColumns: readonly string[];
  /** Checks of the values some functions read from data columns (a JWT's key), run on every row at load. */
  readonly dataChecks: ReadonlyMap<string, DataCheck>;
  /** Present when the device keeps an MQTT session (it publishes, subscribes or reacts to messages). */
  readonly mqtt: MqttSessionSpec | undefined;
  /** Tasks run when a downlink message arrives on a topic; their topics are subscribed on every connect. */
  readonly reactions: readonly Reaction[];
  /** Present when the model declares a token lifecycle (`auth`). */
  readonly auth: AuthSpec | undefined;
  /** Present when the device is a Sparkplug B edge node (`sparkplug`). */
  readonly sparkplug: SparkplugSpec | undefined;
  /** The simulated network link of its devices (`network`); undefined: none, the sockets as they are. */
  readonly network?: NetworkMix | undefined;
  /** Sleep/wake duty cycles and reboots of each device (`lifecycle`); undefined: always on. */
  readonly lifecycle?: Lifecycle | undefined;
}

/** Seeded exponential backoff with jitter between reconnect attempts. */
export interface ReconnectPolicy {
  readonly minMs: number;
  readonly maxMs: number;
  readonly multiplier: number;
  /** Fraction of each delay drawn at random, 0 to 1: 0.5 spreads a delay d over [d/2, d]. */
  readonly jitter: number;
}

export interface WillSpec {
  readonly topic: CompiledTemplate;
  readonly payload: CompiledTemplate;
  readonly qos: QoS;
  readonly retain: boolean;
}

export interface MqttSessionSpec {
  readonly clientId: CompiledTemplate;
  /** 4 is MQTT 3.1.1, 5 is MQTT 5. */
  readonly protocolVersion: 4 | 5;
  readonly clean: boolean;
  /** MQTT 5 Session Expiry Interval in seconds; 0 ends the session with the connection. */
  readonly sessionExpiryS: number;
  /** A persistent MQTT 5 session's last DISCONNECT leaves the session at the broker (else it sets Session Expiry 0). */
  readonly keepSessionAtEnd: boolean;
  /** A QoS 2 publish the broker answers with PUBACK: counted as acked at QoS 1, or as a failure. */
  readonly qos2Downgrade: 'accept' | 'fail';
  readonly keepaliveS: number;
  readonly username: CompiledTemplate | undefined;
  readonly password: CompiledTemplate | undefined;
  readonly will: WillSpec | undefined;
  readonly connectTimeoutMs: number;
  readonly reconnect: ReconnectPolicy;
  /** MQTT 5 CONNECT user properties, rendered per device. */
  readonly userProperties: readonly (readonly [string, CompiledTemplate])[];
  /** MQTT 5 Receive Maximum the device announces: QoS 1/2 messages the broker may have in flight to it. */
  readonly receiveMaximum: number | undefined;
  /** Time the device spends on each QoS 1/2 message it receives before acknowledging it, one at a time (0: at once). */
  readonly processingMs: number;
}

export interface Reaction {
  /** A topic filter template (`devices/{{ device.id }}/ota`); MQTT wildcards allowed. */
  readonly topic: CompiledTemplate;
  readonly qos: QoS;
  /** Values taken from the message's JSON payload before the task runs. */
  readonly captures: readonly Capture[];
  /** Undefined for a plain subscription (a backend consumer): messages are received and measured, nothing runs. */
  readonly task: TaskSpec | undefined;
  /** Time allowed for the SUBACK of its subscription. */
  readonly timeoutMs: number;
  /** The grouping name of that SUBSCRIBE: the filter with its templates as `+`. */
  readonly filterName: string;
  /** Replies to the model's commands arrive here: the device matches them to its commands (by this correlation), nothing runs. */
  readonly commandReplies?: { readonly correlate: CommandAction['correlate'] };
}

/** An environment value a template used: sent, but never written to logs or reports. */
export interface Secret {
  readonly name: string;
  readonly value: string;
}

export interface FleetEntry {
  readonly model: DeviceModel;
  readonly count: number;
  /** Per-device rows: row i goes to the entry's device i (in the fleet's interleaved order). */
  readonly data?: FleetData;
  /** The entry's own `network`, over its model's. */
  readonly network?: NetworkMix | undefined;
}

export interface FleetData {
  readonly table: DataTable;
  /** For each of the model's data slots, the table's column. */
  readonly columnOfSlot: readonly number[];
  /** Data slots whose values are secrets: the request log shows `{{ data.NAME }}` in their place. */
  readonly secretSlots: readonly number[];
  /** The identity scheme `data` reads the id from this column. */
  readonly idColumn: number | undefined;
}

export interface HttpSettings {
  /** Connections per origin in the shared pool. */
  readonly connections: number;
  /** Give every device its own keep-alive connection, as real devices have. */
  readonly connectionPerDevice: boolean;
  /** Which HTTP/1.1 client sends the requests: fleetsim's own (`native`, the default), or undici. */
  readonly client: 'undici' | 'native';
  readonly timeoutMs: number;
  readonly tls: ClientTlsSettings | undefined;
}

/**
 * The client side of TLS (`http.tls`, `mqtt.tls`): cert and key paths may be templates of the
 * device's fields and data columns, so each device presents its own certificate.
 */
export interface ClientTlsSettings {
  readonly ca?: Buffer;
  readonly cert?: CompiledTemplate;
  readonly key?: CompiledTemplate;
  /** Where relative cert and key paths are resolved from (the profile's folder). */
  readonly baseDir: string;
  readonly rejectUnauthorized: boolean;
  /** The data columns the cert and key templates read (`{{ data.cert }}`), by their slot in those templates. */
  readonly dataColumns: readonly string[];
}

/** True when devices may present different certificates: their connections cannot be shared. */
export function certificatePerDevice(tls: ClientTlsSettings | undefined): boolean {
  return (tls?.cert !== undefined && tls.cert.constant === undefined) || (tls?.key !== undefined && tls.key.constant === undefined);
}

/** One stage of the load shape: move the device count linearly to `devices` over `durationMs`. */
export interface Stage {
  readonly durationMs: number;
  readonly devices: number;
}

/** `rate`: devices start one after another at the spawn rate; `all-at-once`: every one in the same tick (a fleet back from a power cut). */
export type SpawnMode = 'rate' | 'all-at-once';

/** A validated run: every field resolved, every template compiled; the engine needs nothing else. */
export interface RunPlan {
  readonly profilePath: string;
  readonly profileSha256: string;
  readonly name: string;
  readonly seed: string;
  readonly target: string | undefined;
  /** mqtt:// or mqtts:// URL; undefined starts the embedded broker when a device needs one. */
  readonly broker: string | undefined;
  readonly fleet: readonly FleetEntry[];
  /** The fleet's size: the most devices ever running (with stages, the highest target). */
  readonly devices: number;
  readonly spawnRate: number;
  readonly spawnMode: SpawnMode;
  /** The load shape when given as stages; then `durationMs` is their sum and `iterations` is unset. */
  readonly stages: readonly Stage[] | undefined;
  readonly durationMs: number | undefined;
  readonly iterations: number | undefined;
  readonly drainTimeoutMs: number;
  readonly http: HttpSettings;
  readonly mqtt: { readonly tls: ClientTlsSettings | undefined };
  readonly thresholds: readonly string[];
  /** The share of the offered load the run must deliver for its verdict to be about the target; null: not checked. */
  readonly minDelivered: number | null;
  /** Environment values the templates read, so outputs can redact them. */
  readonly secrets: readonly Secret[];
  /** Run only this stripe of the fleet (`--shard I/N`, see engine/shard.ts); undefined runs all of it. */
  readonly shard?: Shard | undefined;
  /** Source addresses devices connect from, device i from address i mod their count (`--local-ips`). */
  readonly localAddresses?: readonly string[] | undefined;
  /** Reboot waves and offline windows of shares of the fleet (`events`); empty without any. */
  readonly fleetEvents?: readonly FleetEvent[] | undefined;
}

/** Shard `index` (0-based) of `count` owns the global device indices ≡ index (mod count). */
export interface Shard {
  readonly index: number;
  readonly count: number;
}

/** Every task a model can run: boot tasks, loop tasks, and the reactions that have steps (a plain subscription has none). */
export function modelTasks(model: DeviceModel): TaskSpec[] {
  return [...model.boot, ...model.tasks, ...model.reactions.flatMap((reaction) => (reaction.task ? [reaction.task] : []))];
}

export type { FleetEvent } from './lifecycle.ts';
import type { FleetEvent } from './lifecycle.ts';
