import type { MqttSessionSpec } from '../../profile/types.ts';
import type { SessionOptions } from '../../transport/mqtt/mqtt.ts';
import type { VirtualDevice } from '../device/device.ts';
import type { DeviceTlsResolver } from './tls-files.ts';

/** The port a broker URL without one means. */
const DEFAULT_PORTS: Readonly<Record<string, number>> = { 'mqtt:': 1883, 'mqtts:': 8883, 'ws:': 80, 'wss:': 443 };

/** Shared by every device whose session sends no user properties (most): an empty array each is 32 bytes per device. */
const NO_USER_PROPERTIES: readonly (readonly [string, string])[] = [];

/** The broker's host as a socket takes it, unbracketed: one string for the whole fleet, not one per device. */
let lastHost: { readonly hostname: string; readonly host: string } | undefined;

function socketHost(broker: URL): string {
  if (lastHost?.hostname !== broker.hostname) lastHost = { hostname: broker.hostname, host: broker.hostname.replace(/^\[(.*)\]$/u, '$1') };
  return lastHost.host;
}

/**
 * What one device's MQTT session connects with: the broker's address and transport, the device's
 * rendered client id, credentials, will and CONNECT properties, and its source address (device i
 * uses address i mod k). Rendered once per device, when it starts.
 */
export function sessionOptionsFor(broker: URL, tls: DeviceTlsResolver | undefined, sources: readonly string[], device: VirtualDevice, spec: MqttSessionSpec): SessionOptions {
  const secure = broker.protocol === 'mqtts:' || broker.protocol === 'wss:';
  const webSocket = broker.protocol === 'ws:' || broker.protocol === 'wss:';
  const text = (template: MqttSessionSpec['username']): string | undefined => (template === undefined ? undefined : String(template.evaluate(device)));
  return {
    host: socketHost(broker),
    port: broker.port === '' ? (DEFAULT_PORTS[broker.protocol] ?? 1883) : Number(broker.port),
    webSocketUrl: webSocket ? broker.href : undefined,
    tls: secure ? (tls as DeviceTlsResolver).forDevice(device.deviceIndex) : undefined,
    clientId: String(spec.clientId.evaluate(device)),
    userProperties: spec.userProperties.length === 0 ? NO_USER_PROPERTIES : spec.userProperties.map(([name, value]) => [name, String(value.evaluate(device))] as const),
    receiveMaximum: spec.receiveMaximum,
    processingMs: spec.processingMs,
    protocolVersion: spec.protocolVersion,
    clean: spec.clean,
    sessionExpiryS: spec.sessionExpiryS,
    keepSessionAtEnd: spec.keepSessionAtEnd,
    qos2Downgrade: spec.qos2Downgrade,
    keepaliveS: spec.keepaliveS,
    username: text(spec.username),
    password: text(spec.password),
    will: spec.will && { topic: String(spec.will.topic.evaluate(device)), payload: String(spec.will.payload.evaluate(device)), qos: spec.will.qos, retain: spec.will.retain },
    connectTimeoutMs: spec.connectTimeoutMs,
    localAddress: sources[device.deviceIndex % sources.length],
  };
}
