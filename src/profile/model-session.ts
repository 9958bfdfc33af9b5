import type { CompiledTemplate } from '../template/compile.ts';
import { durationAt, templateAt } from './field-readers.ts';
import { sessionExtrasAt } from './mqtt-properties.ts';
import type { MqttSessionDoc } from './device-schema.ts';
import { positiveDuration, topicAt } from './model-context.ts';
import type { CompileContext } from './model-context.ts';
import type { MqttSessionSpec } from './types.ts';
import type { FieldPath } from './yaml-source.ts';

const DEFAULT_CONNECT_TIMEOUT_MS = 10_000;

/** How long an MQTT 5 broker keeps a persistent session after its connection ends, unless the model says. */
const DEFAULT_SESSION_EXPIRY_MS = 86_400_000;

const PROTOCOL_VERSIONS: Readonly<Record<string, 4 | 5>> = { '3.1.1': 4, '5': 5 };

/** The session a device keeps when any of its steps or reactions speaks MQTT. */
export function compileMqttSession(context: CompileContext, raw: MqttSessionDoc | undefined): MqttSessionSpec {
  const section = raw ?? {};
  const at = (...rest: (string | number)[]): FieldPath => ['mqtt', ...rest];
  const template = (field: 'clientId' | 'username' | 'password'): CompiledTemplate | undefined => {
    const text = section[field];
    return text === undefined ? undefined : templateAt(context.source, at(field), text, context.scope);
  };
  const will = section.will;
  const reconnect = section.reconnect ?? {};
  const minMs = positiveDuration(context, at('reconnect', 'min'), reconnect.min, 1000);
  const maxMs = positiveDuration(context, at('reconnect', 'max'), reconnect.max, Math.max(30_000, minMs));
  if (minMs > maxMs) throw context.source.error(at('reconnect', 'min'), `min (${minMs} ms) must not exceed max (${maxMs} ms)`);
  const keepaliveMs = durationAt(context.source, at('keepalive'), section.keepalive, 60_000);
  if (keepaliveMs > 65_535_000) throw context.source.error(at('keepalive'), 'at most 65535s (the protocol field is 16 bits of seconds)');
  if (keepaliveMs > 0 && keepaliveMs < 1000) throw context.source.error(at('keepalive'), 'at least 1s (the protocol counts whole seconds), or 0 to switch keepalive off');
  const clean = section.clean ?? true;
  // Without an expiry an MQTT 5 broker ends the session with the connection, and clean: false would keep nothing.
  const expiryMs = durationAt(context.source, at('sessionExpiry'), section.sessionExpiry, clean ? 0 : DEFAULT_SESSION_EXPIRY_MS);
  // MQTT 3.1.1 forbids a password without a user name (3.1.2.9), and the encoder refuses it for 5 too.
  if (section.password !== undefined && section.username === undefined) throw context.source.error(at('password'), 'a password needs mqtt.username as well');
  return {
    clientId: template('clientId') ?? templateAt(context.source, at(), '{{ device.id }}', context.scope),
    protocolVersion: PROTOCOL_VERSIONS[String(section.version ?? '3.1.1')] ?? 4,
    clean,
    sessionExpiryS: Math.ceil(expiryMs / 1000),
    keepSessionAtEnd: section.keepSessionAtEnd ?? false,
    qos2Downgrade: section.qos2Downgrade ?? 'accept',
    keepaliveS: Math.round(keepaliveMs / 1000),
    username: template('username'),
    password: template('password'),
    will: will && {
      topic: topicAt(context, at('will', 'topic'), will.topic, false),
      payload: templateAt(context.source, at('will', 'payload'), will.payload ?? '', context.scope),
      qos: will.qos ?? 0,
      retain: will.retain ?? false,
    },
    connectTimeoutMs: positiveDuration(context, at('connectTimeout'), section.connectTimeout, DEFAULT_CONNECT_TIMEOUT_MS),
    reconnect: { minMs, maxMs, multiplier: reconnect.multiplier ?? 2, jitter: reconnect.jitter ?? 0.5 },
    ...sessionExtrasAt(context, section),
  };
}
