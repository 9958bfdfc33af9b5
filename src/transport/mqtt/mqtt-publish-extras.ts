import { checkedLength, stringBytes, UnsendablePacketError, varIntSize, walkProperties, writePayload, writePublishHead, writeVarInt } from './mqtt-codec.ts';

/**
 * What a PUBLISH carries beyond topic and payload, for the publishes that need it: bytes ahead of
 * the payload (a delivery header) and an MQTT 5 property list. Publishes without them never build one.
 */
export interface PublishExtras {
  readonly prefix: Buffer | undefined;
  /** The property list's contents, without its length; sent on MQTT 5 only. */
  readonly properties: Buffer | undefined;
}

/** MQTT 5 property identifiers (MQTT 5 2.2.2.2) that a PUBLISH may carry. */
export const PublishProperty = {
  MessageExpiry: 0x02,
  ContentType: 0x03,
  ResponseTopic: 0x08,
  CorrelationData: 0x09,
  User: 0x26,
} as const;

type PropertyId = (typeof PublishProperty)[keyof typeof PublishProperty];

function lengthChecked(bytes: Buffer, what: string): Buffer {
  if (bytes.length > 0xffff) throw new UnsendablePacketError(`${what} longer than 65535 bytes`);
  return bytes;
}

/** Builds a property list's contents, one property at a time. */
export class PropertyWriter {
  private readonly parts: Buffer[] = [];

  uint32(id: PropertyId, value: number): this {
    const part = Buffer.allocUnsafe(5);
    part[0] = id;
    part.writeUInt32BE(value, 1);
    this.parts.push(part);
    return this;
  }

  /** A UTF-8 string or binary data property: a two-byte length, then the bytes. */
  bytes(id: PropertyId, value: string | Buffer, what: string): this {
    const data = lengthChecked(typeof value === 'string' ? Buffer.from(value) : value, what);
    const part = Buffer.allocUnsafe(3 + data.length);
    part[0] = id;
    part.writeUInt16BE(data.length, 1);
    data.copy(part, 3);
    this.parts.push(part);
    return this;
  }

  user(name: string, value: string): this {
    const key = lengthChecked(Buffer.from(name), 'user property name');
    const text = lengthChecked(Buffer.from(value), `user property ${name}`);
    const part = Buffer.allocUnsafe(5 + key.length + text.length);
    part[0] = PublishProperty.User;
    part.writeUInt16BE(key.length, 1);
    key.copy(part, 3);
    part.writeUInt16BE(text.length, 3 + key.length);
    text.copy(part, 5 + key.length);
    this.parts.push(part);
    return this;
  }

  finish(): Buffer | undefined {
    return this.parts.length === 0 ? undefined : Buffer.concat(this.parts);
  }
}

/** `encodePublish` with a payload prefix and (MQTT 5) properties: the path of publishes that set either. */
export function encodePublishWith(topic: string, payload: string | Buffer, qos: 0 | 1 | 2, retain: boolean, packetId: number, version5: boolean, extras: PublishExtras): Buffer {
  const topicBytes = stringBytes(topic, 'topic');
  const prefix = extras.prefix;
  const properties = version5 ? extras.properties : undefined;
  const propertyBytes = properties?.length ?? 0;
  const payloadBytes = Buffer.byteLength(payload) + (prefix?.length ?? 0);
  const remaining = checkedLength(2 + topicBytes + (qos > 0 ? 2 : 0) + (version5 ? varIntSize(propertyBytes) + propertyBytes : 0) + payloadBytes);
  const buffer = Buffer.allocUnsafe(1 + varIntSize(remaining) + remaining);
  let offset = writePublishHead(buffer, topic, topicBytes, qos, retain, packetId, remaining);
  if (version5) {
    offset = writeVarInt(buffer, offset, propertyBytes);
    if (properties) offset += properties.copy(buffer, offset);
  }
  if (prefix) offset += prefix.copy(buffer, offset);
  writePayload(buffer, payload, offset, payloadBytes - (prefix?.length ?? 0));
  return buffer;
}

/**
 * The value of the first user property named `name` in a property list (its length first, as it
 * arrived), or undefined. A list cut short is a MalformedPacketError, as anywhere else in a packet.
 */
export function readUserProperty(list: Buffer, name: string): string | undefined {
  const nameBytes = Buffer.byteLength(name);
  let value: string | undefined;
  walkProperties(list, 0, list.length, (id, at) => {
    if (id !== PublishProperty.User || list.readUInt16BE(at) !== nameBytes || list.toString('utf8', at + 2, at + 2 + nameBytes) !== name) return false;
    const valueAt = at + 2 + nameBytes;
    value = list.toString('utf8', valueAt + 2, valueAt + 2 + list.readUInt16BE(valueAt));
    return true;
  });
  return value;
}

/**
 * The value of the first property `id` (a UTF-8 string or binary data: two-byte length, then the
 * bytes) in a property list (its length first, as it arrived), as a view into `list`, or undefined.
 */
export function readBytesProperty(list: Buffer, id: PropertyId): Buffer | undefined {
  let value: Buffer | undefined;
  walkProperties(list, 0, list.length, (found, at) => {
    if (found !== id) return false;
    value = list.subarray(at + 2, at + 2 + list.readUInt16BE(at));
    return true;
  });
  return value;
}
