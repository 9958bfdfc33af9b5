import path from 'node:path';
import { patternHasIndex } from '../identity/device-id.ts';
import type { IdentityScheme } from '../identity/device-id.ts';
import { cumulativeWeights } from '../identity/rng.ts';
import { compileJsonBody, literalTemplate } from '../template/compile.ts';
import { dataChecks } from '../template/data-checks.ts';
import type { CompiledTemplate } from '../template/compile.ts';
import type { SlotAllocator } from '../template/functions.ts';
import { compileAuth } from './auth-spec.ts';
import { parseCapturePath } from './capture-path.ts';
import { checkedData, durationAt, EnvironmentReader, templateAt } from './field-readers.ts';
import { deliveryModeAt, publishPropertiesAt, sessionExtrasAt } from './mqtt-properties.ts';
import { deviceModelSchema } from './schema.ts';
import type { Capture, CommandAction, DeviceModel, HttpAction, MqttSessionSpec, PublishAction, QoS, Reaction, StepSpec, SubscribeAction, TaskAction, TaskSpec, WaitModel } from './types.ts';
import { binaryPayloadAt, PAYLOAD_KEYS } from './binary-payloads.ts';
import type { CompiledPayload } from './binary-payloads.ts';
import { compileSparkplug } from './sparkplug-spec.ts';
import { networkAt } from './network.ts';
import { lifecycleAt } from './lifecycle.ts';
import type { SparkplugDataKind, SparkplugSpec } from './sparkplug-spec.ts';
import { YamlSource } from './yaml-source.ts';
import type { FieldPath } from './yaml-source.ts';

type Json = Record<string, unknown>;

export const DEFAULT_TIMEOUT_MS = 10_000;
export const DEFAULT_ACK_TIMEOUT_MS = 5_000;
const DEFAULT_CONNECT_TIMEOUT_MS = 10_000;

/** At most this many attempts in one `repeat`; a larger loop is better written as more iterations. */
const MAX_REPEAT = 100_000;

/** What a device model's templates may reach while it compiles: its walks, the environment, its captures. */
class ModelScope implements SlotAllocator {
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

function defaultStepName(pathSource: string): string {
  const query = pathSource.indexOf('?');
  return query < 0 ? pathSource : pathSource.slice(0, query);
}

/** `devices/{{ device.id }}/lamp/changed` groups as `devices/+/lamp/changed`, as a broker's filter would. */
function defaultTopicName(topicSource: string): string {
  return topicSource.replace(/\{\{.*?\}\}/gu, '+');
}

interface CompileContext {
  readonly source: YamlSource;
  readonly defaults: Json;
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

function compileHttpAction(context: CompileContext, httpPath: FieldPath, http: Json): HttpAction {
  const { source, defaults, scope } = context;
  const method = (http.method as string | undefined) ?? (http.json !== undefined || http.body !== undefined ? 'POST' : 'GET');
  if (http.json !== undefined && http.body !== undefined) throw source.error([...httpPath, 'body'], 'give either json or body, not both', { atKey: true });
  if ((method === 'GET' || method === 'HEAD') && (http.json !== undefined || http.body !== undefined)) {
    throw source.error([...httpPath, 'method'], `${method} requests carry no body; remove json/body or use POST`);
  }
  const pathTemplate = templateAt(source, [...httpPath, 'path'], http.path as string, scope);
  const mergedHeaders = { ...((defaults.headers as Json | undefined) ?? {}), ...((http.headers as Json | undefined) ?? {}) };
  const headers = Object.entries(mergedHeaders).map(([name, value]) => {
    const where = http.headers && name in (http.headers as Json) ? [...httpPath, 'headers', name] : ['http', 'headers', name];
    return [name.toLowerCase(), templateAt(source, where, value as string, scope)] as [string, CompiledTemplate];
  });
  let body: HttpAction['body'];
  let contentType: string | undefined;
  if (http.json !== undefined) {
    body = compileJsonBody(http.json, (leaf) => templateAt(source, [...httpPath, 'json', ...leaf.path], leaf.text, scope));
    contentType = 'application/json';
  } else if (typeof http.body === 'string') {
    const evaluate = templateAt(source, [...httpPath, 'body'], http.body, scope).evaluate;
    body = (device) => String(evaluate(device));
    contentType = 'text/plain';
  }
  const modelTimeoutMs = durationAt(source, ['http', 'timeout'], defaults.timeout, context.fallbackTimeoutMs);
  const timeoutMs = durationAt(source, [...httpPath, 'timeout'], http.timeout, modelTimeoutMs);
  if (timeoutMs <= 0) throw source.error([...httpPath, 'timeout'], 'must be greater than 0');
  const expectStatus = http.expectStatus === undefined ? undefined : new Set(http.expectStatus as number[]);
  // The body's content type is one more header, unless the model sets its own.
  if (contentType !== undefined && !headers.some(([name]) => name === 'content-type')) headers.push(['content-type', literalTemplate(contentType)]);
  return { kind: 'http', method, path: pathTemplate, headers, fixedHeaders: fixedHeaders(headers), body, timeoutMs, expectStatus };
}

/** Headers that no template varies are built once per step, not once per request. */
function fixedHeaders(headers: HttpAction['headers']): Readonly<Record<string, string>> | undefined {
  if (headers.some(([, template]) => template.constant === undefined)) return undefined;
  const fixed: Record<string, string> = {};
  for (const [name, template] of headers) fixed[name] = String(template.constant);
  return Object.freeze(fixed);
}

function payloadAt(context: CompileContext, actionPath: FieldPath, raw: Json): CompiledPayload {
  const { source, scope } = context;
  const given = PAYLOAD_KEYS.filter((key) => raw[key] !== undefined);
  if (given.length > 1) throw source.error([...actionPath, given[1] as string], `give one payload (${given.join(' or ')}), not both`, { atKey: true });
  if (raw.json !== undefined) return { render: compileJsonBody(raw.json, (leaf) => templateAt(source, [...actionPath, 'json', ...leaf.path], leaf.text, scope)), describe: undefined };
  const binary = binaryPayloadAt(source, actionPath, raw, (fieldPath, text) => templateAt(source, fieldPath, text, scope));
  if (binary) return binary;
  const evaluate = templateAt(source, [...actionPath, 'payload'], (raw.payload as string | undefined) ?? '', scope).evaluate;
  return { render: (device) => String(evaluate(device)), describe: undefined };
}

function positiveDuration(context: CompileContext, fieldPath: FieldPath, value: unknown, fallback: number): number {
  const ms = durationAt(context.source, fieldPath, value, fallback);
  if (ms <= 0) throw context.source.error(fieldPath, 'must be greater than 0');
  return ms;
}

function topicAt(context: CompileContext, fieldPath: FieldPath, text: string, filter: boolean): CompiledTemplate {
  if (text === '') throw context.source.error(fieldPath, 'a topic cannot be empty');
  if (!filter && /[+#]/u.test(text.replace(/\{\{.*?\}\}/gu, ''))) throw context.source.error(fieldPath, 'a topic to publish on cannot contain the wildcards + or #');
  return templateAt(context.source, fieldPath, text, context.scope);
}

function compilePublish(context: CompileContext, actionPath: FieldPath, raw: Json): PublishAction {
  const payload = payloadAt(context, actionPath, raw);
  return {
    kind: 'publish',
    sparkplug: undefined,
    topic: topicAt(context, [...actionPath, 'topic'], raw.topic as string, false),
    payload: payload.render,
    describe: payload.describe,
    qos: ((raw.qos as QoS | undefined) ?? 0),
    retain: (raw.retain as boolean | undefined) ?? false,
    timeoutMs: positiveDuration(context, [...actionPath, 'ackTimeout'], raw.ackTimeout, context.ackTimeoutMs),
    properties: publishPropertiesAt(context, actionPath, raw.properties as Json | undefined),
    delivery: deliveryModeAt(context, actionPath, raw.delivery),
  };
}

/** Where a command's replies arrive unless the model says: a topic of the sending device's own. */
const DEFAULT_REPLY_TOPIC = 'fleetsim/replies/{{ device.id }}';

function compileCommand(context: CompileContext, actionPath: FieldPath, raw: Json): CommandAction {
  const { source } = context;
  const payload = payloadAt(context, actionPath, raw);
  const replyText = (raw.replyTopic as string | undefined) ?? DEFAULT_REPLY_TOPIC;
  // On MQTT 5 the reply topic is each command's Response Topic, a topic name; on 3.1.1 it is only subscribed, so a filter will do.
  const replyTopic = topicAt(context, [...actionPath, 'replyTopic'], replyText, !context.version5);
  let correlate: CommandAction['correlate'];
  if (raw.correlate !== undefined) {
    const path = parseCapturePath(raw.correlate as string);
    if (!path) throw source.error([...actionPath, 'correlate'], `${JSON.stringify(raw.correlate)} is not a path into the command's JSON (e.g. $.id)`);
    if (raw.json === undefined) throw source.error([...actionPath, 'correlate'], "correlate reads the command's json payload: give the command a json payload that carries the id", { atKey: true });
    correlate = { expression: raw.correlate as string, path };
  } else if (!context.version5) {
    throw source.error(actionPath, "MQTT 3.1.1 has no Correlation Data: give 'correlate', the command id's path in the command's JSON and in the reply's (e.g. $.id)");
  }
  return {
    kind: 'command',
    to: raw.to as string,
    toError: (problem) => source.error([...actionPath, 'to'], problem),
    topic: topicAt(context, [...actionPath, 'topic'], raw.topic as string, false),
    payload: payload.render,
    describe: payload.describe,
    qos: (raw.qos as QoS | undefined) ?? 1,
    timeoutMs: positiveDuration(context, [...actionPath, 'timeout'], raw.timeout, context.ackTimeoutMs),
    replyTopic,
    correlate,
  };
}

/** A reaction's reply (MQTT 5): a publish to the message's Response Topic, echoing its Correlation Data. */
function compileReply(context: CompileContext, actionPath: FieldPath, raw: Json): PublishAction {
  if (!context.inReaction) throw context.source.error(actionPath, "a reply answers a received message: put it in a reaction's steps (on:)", { atKey: true });
  if (!context.version5) throw context.source.error(actionPath, 'a reply to the Response Topic is MQTT 5 only: set mqtt.version: "5", or on 3.1.1 publish to a topic the command names (capture it from its JSON)', { atKey: true });
  const payload = payloadAt(context, actionPath, raw);
  return {
    kind: 'publish',
    sparkplug: undefined,
    topic: literalTemplate('(response topic)'),
    payload: payload.render,
    describe: payload.describe,
    qos: (raw.qos as QoS | undefined) ?? 0,
    retain: false,
    timeoutMs: positiveDuration(context, [...actionPath, 'ackTimeout'], raw.ackTimeout, context.ackTimeoutMs),
    properties: undefined,
    delivery: undefined,
    reply: true,
  };
}

/** `{{ target.id }}` names the device a command goes to: anywhere else it would render nothing. */
const TARGET_FIELD = /\{\{[^}]*\btarget\.(?:id|index)\b/u;

function checkTargetFields(source: YamlSource, raw: unknown, at: FieldPath, inCommand: boolean): void {
  if (typeof raw === 'string') {
    if (!inCommand && TARGET_FIELD.test(raw)) throw source.error(at, "target.id and target.index name the device a command goes to: they are known only in a 'command' step");
    return;
  }
  if (Array.isArray(raw)) raw.forEach((item, i) => checkTargetFields(source, item, [...at, i], inCommand));
  else if (raw !== null && typeof raw === 'object') {
    for (const [key, value] of Object.entries(raw)) checkTargetFields(source, value, [...at, key], inCommand || key === 'command');
  }
}

/** Each distinct reply topic of the model's commands, as a subscription made on connect whose messages end commands. */
function replySubscriptions(context: CompileContext, tasks: readonly TaskSpec[]): Reaction[] {
  const seen = new Map<string, Reaction>();
  for (const task of tasks) {
    for (const step of task.steps) {
      const action = step.action;
      if (action.kind !== 'command') continue;
      const known = seen.get(action.replyTopic.source);
      // Replies on one topic are matched one way: by the same JSON path, or all by Correlation Data.
      if (known) {
        if (known.commandReplies?.correlate?.expression !== action.correlate?.expression) throw action.toError(`commands replying on ${action.replyTopic.source} must all correlate the same way (give each the same 'correlate', or a replyTopic of its own)`);
        continue;
      }
      const filterName = defaultTopicName(action.replyTopic.source);
      seen.set(action.replyTopic.source, { topic: action.replyTopic, qos: 1, captures: [], task: undefined, timeoutMs: context.ackTimeoutMs, filterName, commandReplies: { correlate: action.correlate } });
    }
  }
  return [...seen.values()];
}

function compileSubscribe(context: CompileContext, actionPath: FieldPath, raw: Json): SubscribeAction {
  return {
    kind: 'subscribe',
    topic: topicAt(context, [...actionPath, 'topic'], raw.topic as string, true),
    qos: ((raw.qos as QoS | undefined) ?? 0),
    timeoutMs: positiveDuration(context, [...actionPath, 'timeout'], raw.timeout, context.ackTimeoutMs),
  };
}

function compileCaptures(context: CompileContext, stepPath: FieldPath, raw: Json | undefined): Capture[] {
  if (!raw) return [];
  return Object.entries(raw).map(([variable, expression]) => {
    if (!/^[A-Za-z_][A-Za-z0-9_]*$/.test(variable)) {
      throw context.source.error([...stepPath, 'capture', variable], `'${variable}' is not a variable name (letters, digits, _; used as {{ vars.NAME }})`, { atKey: true });
    }
    const path = parseCapturePath(expression as string);
    if (!path) throw context.source.error([...stepPath, 'capture', variable], `${JSON.stringify(expression)} is not a capture path (e.g. $.access, $.items[0].id)`);
    return { variable, slot: context.scope.variable(variable), expression: expression as string, path };
  });
}

const ACTION_KEYS = ['http', 'publish', 'subscribe', 'command', 'reply', 'sparkplug'] as const;

function compileAction(context: CompileContext, stepPath: FieldPath, raw: Json): { action: TaskAction; defaultName: string } {
  const given = ACTION_KEYS.filter((key) => raw[key] !== undefined);
  if (given.length === 0) throw context.source.error(stepPath, "a step needs one of 'http', 'publish', 'subscribe' or 'sparkplug'");
  if (given.length > 1) throw context.source.error([...stepPath, given[1] as string], `a step does one thing: give '${given[0] as string}' or '${given[1] as string}', not both (use steps for a sequence)`, { atKey: true });
  const key = given[0] as (typeof ACTION_KEYS)[number];
  const body = raw[key] as Json;
  const actionPath = [...stepPath, key];
  if (key === 'http') return { action: compileHttpAction(context, actionPath, body), defaultName: defaultStepName(body.path as string) };
  if (key === 'publish') return { action: compilePublish(context, actionPath, body), defaultName: defaultTopicName(body.topic as string) };
  if (key === 'sparkplug') return sparkplugDataAction(context, actionPath, raw);
  if (key === 'command') return { action: compileCommand(context, actionPath, body), defaultName: defaultTopicName(body.topic as string) };
  if (key === 'reply') return { action: compileReply(context, actionPath, body), defaultName: 'reply' };
  return { action: compileSubscribe(context, actionPath, body), defaultName: defaultTopicName(body.topic as string) };
}

/** A `sparkplug: NDATA|DDATA` step: a QoS 0 publish whose topic and payload the device's edge node renders. */
function sparkplugDataAction(context: CompileContext, actionPath: FieldPath, raw: Json): { action: TaskAction; defaultName: string } {
  const spec = context.sparkplug;
  if (!spec) throw context.source.error(actionPath, "a sparkplug step needs the model's sparkplug section");
  const kind = raw.sparkplug as SparkplugDataKind;
  if (kind === 'DDATA' && spec.devices === 0) throw context.source.error(actionPath, 'DDATA needs sparkplug.devices');
  const topic = literalTemplate(`spBv1.0/${spec.group}/${kind}/+${kind === 'DDATA' ? '/+' : ''}`);
  const action: PublishAction = { kind: 'publish', sparkplug: kind, topic, payload: () => '', qos: 0, retain: false, timeoutMs: context.ackTimeoutMs, properties: undefined, delivery: undefined };
  return { action, defaultName: kind };
}

function compileStep(context: CompileContext, stepPath: FieldPath, raw: Json): StepSpec {
  const { action, defaultName } = compileAction(context, stepPath, raw);
  if (action.kind !== 'http' && raw.capture !== undefined) {
    const hint = action.kind === 'subscribe' ? ' (capture from messages in on:)' : '';
    throw context.source.error([...stepPath, 'capture'], `captures read HTTP responses; a ${action.kind} has none${hint}`, { atKey: true });
  }
  // A DDATA step sends one message per device of the node unless it says otherwise.
  const sparkplugDevices = action.kind === 'publish' && action.sparkplug === 'DDATA' ? context.sparkplug?.devices : undefined;
  const repeat = (raw.repeat as number | undefined) ?? sparkplugDevices ?? 1;
  if (repeat > MAX_REPEAT) throw context.source.error([...stepPath, 'repeat'], `at most ${MAX_REPEAT}`);
  return {
    name: (raw.name as string | undefined) ?? defaultName,
    action,
    repeat,
    sleepMs: durationAt(context.source, [...stepPath, 'sleep'], raw.sleep, 0),
    captures: compileCaptures(context, stepPath, raw.capture as Json | undefined),
  };
}

/** A task is one request (`http`, optionally repeated) or a sequence of `steps`; both compile to steps. */
function compileTask(context: CompileContext, taskPath: FieldPath, raw: Json): TaskSpec {
  const weight = (raw.weight as number | undefined) ?? 1;
  const everyMs = raw.every === undefined ? undefined : positiveDuration(context, [...taskPath, 'every'], raw.every, 0);
  const stepsRaw = raw.steps as Json[] | undefined;
  if (stepsRaw === undefined) {
    if (ACTION_KEYS.every((key) => raw[key] === undefined)) throw context.source.error(taskPath, "a task needs one action ('http', 'publish' or 'subscribe') or 'steps'");
    const step = compileStep(context, taskPath, raw);
    return { name: step.name, weight, everyMs, steps: [step] };
  }
  for (const key of [...ACTION_KEYS, 'repeat', 'sleep', 'capture']) {
    if (raw[key] !== undefined) throw context.source.error([...taskPath, key], `with 'steps', put '${key}' on a step`, { atKey: true });
  }
  if (stepsRaw.length === 0) throw context.source.error([...taskPath, 'steps'], 'needs at least one step');
  const steps = stepsRaw.map((step, i) => compileStep(context, [...taskPath, 'steps', i], step));
  return { name: (raw.name as string | undefined) ?? steps.map((step) => step.name).join(' + '), weight, everyMs, steps };
}

function compileReactions(context: CompileContext, raw: Json[] | undefined): Reaction[] {
  return (raw ?? []).map((reaction, i) => {
    const where = ['on', i];
    const filterName = defaultTopicName(reaction.topic as string);
    const task = reaction.steps === undefined ? undefined : compileTask({ ...context, inReaction: true }, where, { name: reaction.name ?? `on ${filterName}`, steps: reaction.steps });
    if (!task && reaction.capture !== undefined) throw context.source.error([...where, 'capture'], 'captures are for steps; this subscription has none', { atKey: true });
    return {
      topic: topicAt(context, [...where, 'topic'], reaction.topic as string, true),
      qos: (reaction.qos as QoS | undefined) ?? 1,
      captures: compileCaptures(context, where, reaction.capture as Json | undefined),
      task,
      timeoutMs: context.ackTimeoutMs,
      filterName,
    };
  });
}

/** How long an MQTT 5 broker keeps a persistent session after its connection ends, unless the model says. */
const DEFAULT_SESSION_EXPIRY_MS = 86_400_000;

const PROTOCOL_VERSIONS: Readonly<Record<string, 4 | 5>> = { '3.1.1': 4, '5': 5 };

/** The session a device keeps when any of its steps or reactions speaks MQTT. */
function compileMqttSession(context: CompileContext, raw: Json | undefined): MqttSessionSpec {
  const section = raw ?? {};
  const at = (...rest: (string | number)[]): FieldPath => ['mqtt', ...rest];
  const template = (field: string): CompiledTemplate | undefined =>
    section[field] === undefined ? undefined : templateAt(context.source, at(field), section[field] as string, context.scope);
  const will = section.will as Json | undefined;
  const reconnect = (section.reconnect as Json | undefined) ?? {};
  const minMs = positiveDuration(context, at('reconnect', 'min'), reconnect.min, 1000);
  const maxMs = positiveDuration(context, at('reconnect', 'max'), reconnect.max, Math.max(30_000, minMs));
  if (minMs > maxMs) throw context.source.error(at('reconnect', 'min'), `min (${minMs} ms) must not exceed max (${maxMs} ms)`);
  const keepaliveMs = durationAt(context.source, at('keepalive'), section.keepalive, 60_000);
  if (keepaliveMs > 65_535_000) throw context.source.error(at('keepalive'), 'at most 65535s (the protocol field is 16 bits of seconds)');
  if (keepaliveMs > 0 && keepaliveMs < 1000) throw context.source.error(at('keepalive'), 'at least 1s (the protocol counts whole seconds), or 0 to switch keepalive off');
  const clean = (section.clean as boolean | undefined) ?? true;
  // Without an expiry an MQTT 5 broker ends the session with the connection, and clean: false would keep nothing.
  const expiryMs = durationAt(context.source, at('sessionExpiry'), section.sessionExpiry, clean ? 0 : DEFAULT_SESSION_EXPIRY_MS);
  // MQTT 3.1.1 forbids a password without a user name (3.1.2.9), and the encoder refuses it for 5 too.
  if (section.password !== undefined && section.username === undefined) throw context.source.error(at('password'), 'a password needs mqtt.username as well');
  return {
    clientId: template('clientId') ?? templateAt(context.source, at(), '{{ device.id }}', context.scope),
    protocolVersion: PROTOCOL_VERSIONS[String((section.version as string | number | undefined) ?? '3.1.1')] ?? 4,
    clean,
    sessionExpiryS: Math.ceil(expiryMs / 1000),
    keepSessionAtEnd: (section.keepSessionAtEnd as boolean | undefined) ?? false,
    qos2Downgrade: (section.qos2Downgrade as 'accept' | 'fail' | undefined) ?? 'accept',
    keepaliveS: Math.round(keepaliveMs / 1000),
    username: template('username'),
    password: template('password'),
    will: will && {
      topic: topicAt(context, at('will', 'topic'), will.topic as string, false),
      payload: templateAt(context.source, at('will', 'payload'), (will.payload as string | undefined) ?? '', context.scope),
      qos: (will.qos as QoS | undefined) ?? 0,
      retain: (will.retain as boolean | undefined) ?? false,
    },
    connectTimeoutMs: positiveDuration(context, at('connectTimeout'), section.connectTimeout, DEFAULT_CONNECT_TIMEOUT_MS),
    reconnect: { minMs, maxMs, multiplier: (reconnect.multiplier as number | undefined) ?? 2, jitter: (reconnect.jitter as number | undefined) ?? 0.5 },
    ...sessionExtrasAt(context, section),
  };
}

function usesMqtt(tasks: readonly TaskSpec[]): boolean {
  return tasks.some((task) => task.steps.some((step) => step.action.kind !== 'http'));
}

/** Periodic tasks (`every`) and weighted picks do not mix: a device either keeps timetables or draws tasks. */
function checkPeriodic(source: YamlSource, tasks: readonly TaskSpec[], raw: Json): boolean {
  const periodic = tasks.filter((task) => task.everyMs !== undefined).length;
  if (periodic === 0) return false;
  const tasksRaw = raw.tasks as Json[];
  if (periodic < tasks.length) throw source.error(['tasks', tasks.findIndex((task) => task.everyMs === undefined)], "when one task has 'every', all need it (each runs on its own period)");
  if (raw.wait !== undefined) throw source.error(['wait'], "tasks with 'every' keep their own periods; remove wait", { atKey: true });
  const weighted = tasksRaw.findIndex((task) => task.weight !== undefined);
  if (weighted >= 0) throw source.error(['tasks', weighted, 'weight'], "a task with 'every' is not picked by weight; remove weight", { atKey: true });
  for (const [i, task] of (((raw.boot as Json[] | undefined) ?? []).entries())) {
    if (task.every !== undefined) throw source.error(['boot', i, 'every'], 'boot tasks run once, in order', { atKey: true });
  }
  return true;
}

/**
 * Refuses a key the chosen variant (`raw[discriminator]`) does not use, at the key: the schema
 * allows it for some variant, and silently ignoring it would run something else than was written.
 */
function rejectUnusedKeys(
  source: YamlSource,
  section: string,
  raw: Json,
  discriminator: string,
  used: Readonly<Record<string, readonly string[]>>,
  problem: (variant: string, takes: readonly string[] | undefined) => string,
): void {
  const variant = String(raw[discriminator]);
  const takes = used[variant];
  for (const key of Object.keys(raw)) {
    if (key !== discriminator && !takes?.includes(key)) throw source.error([section, key], problem(variant, takes), { atKey: true });
  }
}

function compileWait(source: YamlSource, raw: Json | undefined): WaitModel {
  if (!raw) return { model: 'constant', timeMs: 0 };
  const used = { constant: ['time'], between: ['min', 'max'], pacing: ['interval'], throughput: ['perSecond'] };
  rejectUnusedKeys(source, 'wait', raw, 'model', used, (model, takes) => `not used by the ${model} wait model (it takes ${takes?.join(', ') ?? 'nothing'})`);
  const need = (field: string): unknown => {
    if (raw[field] === undefined) throw source.error(['wait'], `wait model '${String(raw.model)}' needs '${field}'`);
    return raw[field];
  };
  switch (raw.model) {
    case 'constant':
      return { model: 'constant', timeMs: durationAt(source, ['wait', 'time'], need('time'), 0) };
    case 'between': {
      const minMs = durationAt(source, ['wait', 'min'], need('min'), 0);
      const maxMs = durationAt(source, ['wait', 'max'], need('max'), 0);
      if (minMs > maxMs) throw source.error(['wait', 'min'], `min (${minMs} ms) must not exceed max (${maxMs} ms)`);
      return { model: 'between', minMs, maxMs };
    }
    case 'pacing': {
      const intervalMs = durationAt(source, ['wait', 'interval'], need('interval'), 0);
      if (intervalMs <= 0) throw source.error(['wait', 'interval'], 'must be greater than 0');
      return { model: 'pacing', intervalMs };
    }
    default:
      return { model: 'throughput', perSecond: need('perSecond') as number };
  }
}

function compileIdentityScheme(source: YamlSource, raw: Json | undefined): IdentityScheme {
  if (!raw) return { scheme: 'hex48', prefix: '' };
  const prefix = (raw.prefix as string | undefined) ?? '';
  const scheme = raw.scheme as string;
  rejectUnusedKeys(source, 'identity', raw, 'scheme', { hex48: ['prefix'], 'sequential-hex': ['prefix', 'base', 'width'], pattern: ['pattern'], data: ['column'] }, (variant) => `not used by the ${variant} scheme`);
  if (scheme === 'data') {
    const column = raw.column as string | undefined;
    if (column === undefined) throw source.error(['identity'], "the data scheme needs 'column': the data file's column holding each device's id");
    return { scheme: 'data', column };
  }
  if (scheme === 'pattern') {
    const pattern = raw.pattern as string | undefined;
    if (pattern === undefined) throw source.error(['identity'], "the pattern scheme needs 'pattern', e.g. \"node-{index:6}\"");
    if (!patternHasIndex(pattern)) throw source.error(['identity', 'pattern'], 'must contain {index} (or {index:WIDTH}) so every id is unique');
    return { scheme: 'pattern', pattern };
  }
  if (scheme === 'sequential-hex') {
    const base = BigInt((raw.base as string | undefined) ?? '0x0');
    return { scheme: 'sequential-hex', base, width: (raw.width as number | undefined) ?? 12, prefix };
  }
  return { scheme: 'hex48', prefix };
}

/** Every variable some step captures, in document order: templates anywhere in the model may use them. */
function capturedVariables(raw: Json): string[] {
  const names = new Set<string>();
  const visitStep = (step: Json): void => {
    for (const name of Object.keys((step.capture as Json | undefined) ?? {})) names.add(name);
  };
  for (const key of ['boot', 'tasks', 'on']) {
    for (const task of (raw[key] as Json[] | undefined) ?? []) {
      visitStep(task);
      for (const step of (task.steps as Json[] | undefined) ?? []) visitStep(step);
    }
  }
  return [...names];
}

export interface DeviceModelOptions {
  /** How the file is named in messages. */
  readonly displayName?: string;
  /** A step's timeout comes from the step, else the model's `http.timeout`, else this (the profile's). */
  readonly fallbackTimeoutMs?: number;
  readonly environment?: EnvironmentReader;
}

/** Reads and compiles one device model file; every template is compiled here, once. */
export async function loadDeviceModel(file: string, options: DeviceModelOptions = {}): Promise<DeviceModel> {
  const source = await YamlSource.read(file, options.displayName ?? file);
  const raw = checkedData(source, deviceModelSchema);
  const scope = new ModelScope(capturedVariables(raw), options.environment ?? new EnvironmentReader(), path.dirname(path.resolve(file)));
  const mqttRaw = raw.mqtt as Json | undefined;
  const baseContext = {
    source,
    defaults: (raw.http as Json | undefined) ?? {},
    scope,
    fallbackTimeoutMs: options.fallbackTimeoutMs ?? DEFAULT_TIMEOUT_MS,
    ackTimeoutMs: durationAt(source, ['mqtt', 'ackTimeout'], mqttRaw?.ackTimeout, DEFAULT_ACK_TIMEOUT_MS),
    version5: mqttRaw?.version === '5' || mqttRaw?.version === 5,
  };
  // Compiled before the tasks: their sparkplug steps read it.
  const sparkplugRaw = raw.sparkplug as Json | undefined;
  const sparkplug = sparkplugRaw && compileSparkplug(source, sparkplugRaw, scope);
  const context: CompileContext = { ...baseContext, sparkplug };
  if (context.ackTimeoutMs <= 0) throw source.error(['mqtt', 'ackTimeout'], 'must be greater than 0');
  const compileTasks = (key: 'boot' | 'tasks'): TaskSpec[] => ((raw[key] as Json[] | undefined) ?? []).map((task, i) => compileTask(context, [key, i], task));
  const boot = compileTasks('boot');
  const tasks = compileTasks('tasks');
  checkTargetFields(source, { boot: raw.boot, tasks: raw.tasks, on: raw.on }, [], false);
  const reactions = compileReactions(context, raw.on as Json[] | undefined);
  const periodic = checkPeriodic(source, tasks, raw);
  const weights = tasks.map((task) => task.weight);
  if (tasks.length === 0 && reactions.length === 0) throw source.error([], "a device needs tasks, or subscriptions under 'on' (a device that only listens)");
  if (!periodic && tasks.length > 0 && !weights.some((weight) => weight > 0)) throw source.error(['tasks'], 'at least one task needs a weight above 0');
  reactions.push(...replySubscriptions(context, [...boot, ...tasks, ...reactions.flatMap((reaction) => (reaction.task ? [reaction.task] : []))]));
  const needsSession = mqttRaw !== undefined || sparkplug !== undefined || reactions.length > 0 || usesMqtt(boot) || usesMqtt(tasks);
  return {
    name: raw.name as string,
    file,
    identity: compileIdentityScheme(source, raw.identity as Json | undefined),
    boot,
    tasks,
    cumulativeWeights: cumulativeWeights(weights),
    wait: compileWait(source, raw.wait as Json | undefined),
    walkRanges: scope.ranges,
    variables: scope.variables,
    dataColumns: scope.dataColumns,
    dataChecks: dataChecks(scope),
    mqtt: needsSession ? compileMqttSession(context, mqttRaw) : undefined,
    reactions,
    auth: compileAuth(source, raw.auth as Json | undefined, boot, tasks, scope.variables),
    sparkplug,
    network: networkAt(source, ['network'], raw.network),
    lifecycle: lifecycleAt(source, raw.lifecycle as Json | undefined),
  };
}
