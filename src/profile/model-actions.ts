import { compileJsonBody, literalTemplate } from '../template/compile.ts';
import type { CompiledTemplate } from '../template/compile.ts';
import { parseCapturePath } from './capture-path.ts';
import { durationAt, templateAt } from './field-readers.ts';
import { deliveryModeAt, publishPropertiesAt } from './mqtt-properties.ts';
import { binaryPayloadAt, PAYLOAD_KEYS } from './binary-payloads.ts';
import type { CompiledPayload, PayloadDoc } from './binary-payloads.ts';
import type { CommandDoc, HttpDoc, PublishDoc, ReplyDoc, StepDoc, SubscribeDoc } from './device-schema.ts';
import { defaultStepName, defaultTopicName, positiveDuration, topicAt } from './model-context.ts';
import type { CompileContext } from './model-context.ts';
import type { SparkplugDataKind } from './sparkplug-spec.ts';
import type { CommandAction, HttpAction, PublishAction, SubscribeAction, TaskAction } from './types.ts';
import type { FieldPath } from './yaml-source.ts';

/** The keys that make a step an action; a step has exactly one. */
export const ACTION_KEYS = ['http', 'publish', 'subscribe', 'command', 'reply', 'sparkplug'] as const;

function compileHttpAction(context: CompileContext, httpPath: FieldPath, http: HttpDoc): HttpAction {
  const { source, defaults, scope } = context;
  const method = http.method ?? (http.json !== undefined || http.body !== undefined ? 'POST' : 'GET');
  if (http.json !== undefined && http.body !== undefined) throw source.error([...httpPath, 'body'], 'give either json or body, not both', { atKey: true });
  if ((method === 'GET' || method === 'HEAD') && (http.json !== undefined || http.body !== undefined)) {
    throw source.error([...httpPath, 'method'], `${method} requests carry no body; remove json/body or use POST`);
  }
  const pathTemplate = templateAt(source, [...httpPath, 'path'], http.path, scope);
  const mergedHeaders = { ...defaults.headers, ...http.headers };
  const headers = Object.entries(mergedHeaders).map(([name, value]): [string, CompiledTemplate] => {
    const where = http.headers && name in http.headers ? [...httpPath, 'headers', name] : ['http', 'headers', name];
    return [name.toLowerCase(), templateAt(source, where, value, scope)];
  });
  let body: HttpAction['body'];
  let contentType: string | undefined;
  if (http.json !== undefined) {
    body = compileJsonBody(http.json, (leaf) => templateAt(source, [...httpPath, 'json', ...leaf.path], leaf.text, scope));
    contentType = 'application/json';
  } else if (http.body !== undefined) {
    const evaluate = templateAt(source, [...httpPath, 'body'], http.body, scope).evaluate;
    body = (device) => String(evaluate(device));
    contentType = 'text/plain';
  }
  const modelTimeoutMs = durationAt(source, ['http', 'timeout'], defaults.timeout, context.fallbackTimeoutMs);
  const timeoutMs = durationAt(source, [...httpPath, 'timeout'], http.timeout, modelTimeoutMs);
  if (timeoutMs <= 0) throw source.error([...httpPath, 'timeout'], 'must be greater than 0');
  const expectStatus = http.expectStatus === undefined ? undefined : new Set(http.expectStatus);
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

function payloadAt(context: CompileContext, actionPath: FieldPath, raw: PayloadDoc): CompiledPayload {
  const { source, scope } = context;
  const given = PAYLOAD_KEYS.filter((key) => raw[key] !== undefined);
  const [, second] = given;
  if (second !== undefined) throw source.error([...actionPath, second], `give one payload (${given.join(' or ')}), not both`, { atKey: true });
  if (raw.json !== undefined) return { render: compileJsonBody(raw.json, (leaf) => templateAt(source, [...actionPath, 'json', ...leaf.path], leaf.text, scope)), describe: undefined };
  const binary = binaryPayloadAt(source, actionPath, raw, (fieldPath, text) => templateAt(source, fieldPath, text, scope));
  if (binary) return binary;
  const evaluate = templateAt(source, [...actionPath, 'payload'], raw.payload ?? '', scope).evaluate;
  return { render: (device) => String(evaluate(device)), describe: undefined };
}

function compilePublish(context: CompileContext, actionPath: FieldPath, raw: PublishDoc): PublishAction {
  const payload = payloadAt(context, actionPath, raw);
  return {
    kind: 'publish',
    sparkplug: undefined,
    topic: topicAt(context, [...actionPath, 'topic'], raw.topic, false),
    payload: payload.render,
    describe: payload.describe,
    qos: raw.qos ?? 0,
    retain: raw.retain ?? false,
    timeoutMs: positiveDuration(context, [...actionPath, 'ackTimeout'], raw.ackTimeout, context.ackTimeoutMs),
    properties: publishPropertiesAt(context, actionPath, raw.properties),
    delivery: deliveryModeAt(context, actionPath, raw.delivery),
  };
}

/** Where a command's replies arrive unless the model says: a topic of the sending device's own. */
const DEFAULT_REPLY_TOPIC = 'fleetsim/replies/{{ device.id }}';

function compileCommand(context: CompileContext, actionPath: FieldPath, raw: CommandDoc): CommandAction {
  const { source } = context;
  const payload = payloadAt(context, actionPath, raw);
  // On MQTT 5 the reply topic is each command's Response Topic, a topic name; on 3.1.1 it is only subscribed, so a filter will do.
  const replyTopic = topicAt(context, [...actionPath, 'replyTopic'], raw.replyTopic ?? DEFAULT_REPLY_TOPIC, !context.version5);
  let correlate: CommandAction['correlate'];
  if (raw.correlate !== undefined) {
    const path = parseCapturePath(raw.correlate);
    if (!path) throw source.error([...actionPath, 'correlate'], `${JSON.stringify(raw.correlate)} is not a path into the command's JSON (e.g. $.id)`);
    if (raw.json === undefined) throw source.error([...actionPath, 'correlate'], "correlate reads the command's json payload: give the command a json payload that carries the id", { atKey: true });
    correlate = { expression: raw.correlate, path };
  } else if (!context.version5) {
    throw source.error(actionPath, "MQTT 3.1.1 has no Correlation Data: give 'correlate', the command id's path in the command's JSON and in the reply's (e.g. $.id)");
  }
  return {
    kind: 'command',
    to: raw.to,
    toError: (problem) => source.error([...actionPath, 'to'], problem),
    topic: topicAt(context, [...actionPath, 'topic'], raw.topic, false),
    payload: payload.render,
    describe: payload.describe,
    qos: raw.qos ?? 1,
    timeoutMs: positiveDuration(context, [...actionPath, 'timeout'], raw.timeout, context.ackTimeoutMs),
    replyTopic,
    correlate,
  };
}

/** A reaction's reply (MQTT 5): a publish to the message's Response Topic, echoing its Correlation Data. */
function compileReply(context: CompileContext, actionPath: FieldPath, raw: ReplyDoc): PublishAction {
  if (!context.inReaction) throw context.source.error(actionPath, "a reply answers a received message: put it in a reaction's steps (on:)", { atKey: true });
  if (!context.version5)
    throw context.source.error(actionPath, 'a reply to the Response Topic is MQTT 5 only: set mqtt.version: "5", or on 3.1.1 publish to a topic the command names (capture it from its JSON)', {
      atKey: true,
    });
  const payload = payloadAt(context, actionPath, raw);
  return {
    kind: 'publish',
    sparkplug: undefined,
    topic: literalTemplate('(response topic)'),
    payload: payload.render,
    describe: payload.describe,
    qos: raw.qos ?? 0,
    retain: false,
    timeoutMs: positiveDuration(context, [...actionPath, 'ackTimeout'], raw.ackTimeout, context.ackTimeoutMs),
    properties: undefined,
    delivery: undefined,
    reply: true,
  };
}

function compileSubscribe(context: CompileContext, actionPath: FieldPath, raw: SubscribeDoc): SubscribeAction {
  return {
    kind: 'subscribe',
    topic: topicAt(context, [...actionPath, 'topic'], raw.topic, true),
    qos: raw.qos ?? 0,
    timeoutMs: positiveDuration(context, [...actionPath, 'timeout'], raw.timeout, context.ackTimeoutMs),
  };
}

/** A `sparkplug: NDATA|DDATA` step: a QoS 0 publish whose topic and payload the device's edge node renders. */
function sparkplugDataAction(context: CompileContext, actionPath: FieldPath, kind: SparkplugDataKind): { action: TaskAction; defaultName: string } {
  const spec = context.sparkplug;
  if (!spec) throw context.source.error(actionPath, "a sparkplug step needs the model's sparkplug section");
  if (kind === 'DDATA' && spec.devices === 0) throw context.source.error(actionPath, 'DDATA needs sparkplug.devices');
  const topic = literalTemplate(`spBv1.0/${spec.group}/${kind}/+${kind === 'DDATA' ? '/+' : ''}`);
  const action: PublishAction = { kind: 'publish', sparkplug: kind, topic, payload: () => '', qos: 0, retain: false, timeoutMs: context.ackTimeoutMs, properties: undefined, delivery: undefined };
  return { action, defaultName: kind };
}

/** The one action of a step, compiled, with the stats name it has unless the step names itself. */
export function compileAction(context: CompileContext, stepPath: FieldPath, raw: StepDoc): { action: TaskAction; defaultName: string } {
  const [first = '', second] = ACTION_KEYS.filter((key) => raw[key] !== undefined);
  if (second !== undefined) throw context.source.error([...stepPath, second], `a step does one thing: give '${first}' or '${second}', not both (use steps for a sequence)`, { atKey: true });
  const at = (key: (typeof ACTION_KEYS)[number]): FieldPath => [...stepPath, key];
  if (raw.http !== undefined) return { action: compileHttpAction(context, at('http'), raw.http), defaultName: defaultStepName(raw.http.path) };
  if (raw.publish !== undefined) return { action: compilePublish(context, at('publish'), raw.publish), defaultName: defaultTopicName(raw.publish.topic) };
  if (raw.sparkplug !== undefined) return sparkplugDataAction(context, at('sparkplug'), raw.sparkplug);
  if (raw.command !== undefined) return { action: compileCommand(context, at('command'), raw.command), defaultName: defaultTopicName(raw.command.topic) };
  if (raw.reply !== undefined) return { action: compileReply(context, at('reply'), raw.reply), defaultName: 'reply' };
  if (raw.subscribe !== undefined) return { action: compileSubscribe(context, at('subscribe'), raw.subscribe), defaultName: defaultTopicName(raw.subscribe.topic) };
  throw context.source.error(stepPath, "a step needs one of 'http', 'publish', 'subscribe' or 'sparkplug'");
}
