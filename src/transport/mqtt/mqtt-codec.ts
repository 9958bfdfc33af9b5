import { generate } from 'mqtt-packet';
import type { IConnectPacket } from 'mqtt-packet';

/** MQTT control packet types (the high nibble of the first byte). */
export const enum PacketType {
  Connect = 1,
  Connack = 2,
  Publish = 3,
  Puback = 4,
  Pubrec = 5,
  Pubrel = 6,
  Pubcomp = 7,
  Subscribe = 8,
  Suback = 9,
  Unsubscribe = 10,
  Unsuback = 11,
  Pingreq = 12,
  Pingresp = 13,
  Disconnect = 14,
  Auth = 15,
}

export const PINGREQ = Buffer.from([PacketType.Pingreq << 4, 0]);
/** Reason code 0 may be left out (MQTT 5 3.14.2.1), so one encoding serves both versions. */
export const DISCONNECT = Buffer.from([PacketType.Disconnect << 4, 0]);
/**
 * MQTT 5 DISCONNECT, reason 0, that sets the Session Expiry Interval to 0 (3.14.2.2.2): the broker
 * drops the session as the connection ends, whatever CONNECT asked for.
 */
export const DISCONNECT_ENDING_SESSION = Buffer.from([PacketType.Disconnect << 4, 7, 0, 5, 0x11, 0, 0, 0, 0]);
/** MQTT 5 DISCONNECT with reason 0x82 Protocol Error and no properties (a property length may be left out). */
export const DISCONNECT_PROTOCOL_ERROR = Buffer.from([PacketType.Disconnect << 4, 1, 0x82]);

/** The texts MQTT gives its return and reason codes; failures are labelled with them. */
const REASONS: Readonly<Record<number, string>> = {
  1: 'Unacceptable protocol version',
  2: 'Identifier rejected',
  3: 'Server unavailable',
  4: 'Bad username or password',
  5: 'Not authorized',
  128: 'Unspecified error',
  129: 'Malformed Packet',
  130: 'Protocol Error',
  131: 'Implementation specific error',
  132: 'Unsupported Protocol Version',
  133: 'Client Identifier not valid',
  134: 'Bad User Name or Password',
  135: 'Not authorized',
  136: 'Server unavailable',
  137: 'Server busy',
  138: 'Banned',
  139: 'Server shutting down',
  140: 'Bad authentication method',
  141: 'Keep Alive timeout',
  142: 'Session taken over',
  143: 'Topic Filter invalid',
  144: 'Topic Name invalid',
  145: 'Packet identifier in use',
  146: 'Packet Identifier not found',
  147: 'Receive Maximum exceeded',
  148: 'Topic Alias invalid',
  149: 'Packet too large',
  150: 'Message rate too high',
  151: 'Quota exceeded',
  152: 'Administrative action',
  153: 'Payload format invalid',
  154: 'Retain not supported',
  155: 'QoS not supported',
  156: 'Use another server',
  157: 'Server moved',
  158: 'Shared Subscriptions not supported',
  159: 'Connection rate exceeded',
  160: 'Maximum connect time',
  161: 'Subscription Identifiers not supported',
  162: 'Wildcard Subscriptions not supported',
};

/** `reason 135 Not authorized`: the label stats group a refused packet under. */
export function reasonLabel(code: number, prefix = ''): string {
  const text = REASONS[code];
  return text === undefined ? `reason ${code}` : `reason ${code} ${prefix}${text}`;
}

export function varIntSize(value: number): number {
  return value < 0x80 ? 1 : value < 0x4000 ? 2 : value < 0x200000 ? 3 : 4;
}

export function writeVarInt(buffer: Buffer, offset: number, value: number): number {
  let rest = value;
  do {
    let byte = rest & 0x7f;
    rest >>>= 7;
    if (rest > 0) byte |= 0x80;
    buffer[offset++] = byte;
  } while (rest > 0);
  return offset;
}

/** The largest remaining length MQTT can express (four length bytes). */
const MAX_REMAINING_LENGTH = 268_435_455;

/** A packet MQTT cannot express; the publish or subscribe fails with its label, nothing is sent. */
export class UnsendablePacketError extends Error {
  readonly code = 'MQTT_UNSENDABLE';
}

export function stringBytes(text: string, what: string): number {
  const bytes = Buffer.byteLength(text);
  if (bytes > 0xffff) throw new UnsendablePacketError(`${what} longer than 65535 bytes`);
  return bytes;
}

export function checkedLength(remaining: number): number {
  if (remaining > MAX_REMAINING_LENGTH) throw new UnsendablePacketError('packet larger than 256 MB');
  return remaining;
}

/**
 * One PUBLISH as the single buffer written for it: fixed header, topic, packet id, (MQTT 5: an empty
 * property list) and payload, sized before a byte is written so nothing is copied twice.
 */
export function encodePublish(topic: string, payload: string | Buffer, qos: 0 | 1 | 2, retain: boolean, packetId: number, version5: boolean): Buffer {
  const topicBytes = stringBytes(topic, 'topic');
  const payloadBytes = Buffer.byteLength(payload);
  const remaining = checkedLength(2 + topicBytes + (qos > 0 ? 2 : 0) + (version5 ? 1 : 0) + payloadBytes);
  const buffer = Buffer.allocUnsafe(1 + varIntSize(remaining) + remaining);
  let offset = writePublishHead(buffer, topic, topicBytes, qos, retain, packetId, remaining);
  if (version5) buffer[offset++] = 0;
  writePayload(buffer, payload, offset, payloadBytes);
  return buffer;
}

/** A text payload as UTF-8, a binary one (protobuf, CBOR, raw bytes) as it is. */
export function writePayload(buffer: Buffer, payload: string | Buffer, offset: number, payloadBytes: number): void {
  if (typeof payload === 'string') buffer.write(payload, offset, payloadBytes);
  else payload.copy(buffer, offset);
}

/** A PUBLISH's fixed header, topic and packet id into a buffer sized for the whole packet; returns where the rest goes. */
export function writePublishHead(buffer: Buffer, topic: string, topicBytes: number, qos: 0 | 1 | 2, retain: boolean, packetId: number, remaining: number): number {
  buffer[0] = (PacketType.Publish << 4) | (qos << 1) | (retain ? 1 : 0);
  let offset = writeVarInt(buffer, 1, remaining);
  buffer.writeUInt16BE(topicBytes, offset);
  offset += 2;
  offset += buffer.write(topic, offset, topicBytes);
  if (qos > 0) {
    buffer.writeUInt16BE(packetId, offset);
    offset += 2;
  }
  return offset;
}

/** PUBACK, PUBREC, PUBREL or PUBCOMP for a packet id; reason code 0 is left out (valid in both versions), others are MQTT 5 only. */
export function encodeAck(type: PacketType.Puback | PacketType.Pubrec | PacketType.Pubrel | PacketType.Pubcomp, packetId: number, reasonCode = 0): Buffer {
  const buffer = Buffer.allocUnsafe(reasonCode === 0 ? 4 : 5);
  // PUBREL's fixed header carries the reserved flags 0b0010 (MQTT 3.6.1).
  buffer[0] = (type << 4) | (type === PacketType.Pubrel ? 2 : 0);
  buffer[1] = reasonCode === 0 ? 2 : 3;
  buffer.writeUInt16BE(packetId, 2);
  if (reasonCode !== 0) buffer[4] = reasonCode;
  return buffer;
}

export function encodeSubscribe(filter: string, qos: 0 | 1 | 2, packetId: number, version5: boolean): Buffer {
  const filterBytes = stringBytes(filter, 'topic filter');
  const remaining = 2 + (version5 ? 1 : 0) + 2 + filterBytes + 1;
  const buffer = Buffer.allocUnsafe(1 + varIntSize(remaining) + remaining);
  buffer[0] = (PacketType.Subscribe << 4) | 2;
  let offset = writeVarInt(buffer, 1, remaining);
  buffer.writeUInt16BE(packetId, offset);
  offset += 2;
  if (version5) buffer[offset++] = 0;
  buffer.writeUInt16BE(filterBytes, offset);
  offset += 2;
  offset += buffer.write(filter, offset, filterBytes);
  buffer[offset] = qos;
  return buffer;
}

export interface ConnectFields {
  readonly clientId: string;
  readonly protocolVersion: 4 | 5;
  readonly clean: boolean;
  /** MQTT 5 Session Expiry Interval (s); left out when 0 or absent, as the protocol's default is 0. */
  readonly sessionExpiryS?: number;
  readonly keepaliveS: number;
  readonly username: string | undefined;
  readonly password: string | undefined;
  readonly will: { readonly topic: string; readonly payload: string | Buffer; readonly qos: 0 | 1 | 2; readonly retain: boolean } | undefined;
  /** MQTT 5 Receive Maximum: how many QoS 1/2 messages the broker may have unacknowledged to this client. */
  readonly receiveMaximum?: number | undefined;
  /** MQTT 5 CONNECT user properties, in order. */
  readonly userProperties?: readonly (readonly [string, string])[] | undefined;
}

/** mqtt-packet takes user properties as an object; a name given twice becomes a list, sent in order. */
function userPropertyObject(pairs: readonly (readonly [string, string])[]): Record<string, string | string[]> {
  const out: Record<string, string | string[]> = {};
  for (const [name, value] of pairs) {
    const had = out[name];
    out[name] = had === undefined ? value : [...(Array.isArray(had) ? had : [had]), value];
  }
  return out;
}

/** CONNECT is sent once per connection and has the most optional parts: mqtt-packet encodes it. */
export function encodeConnect(fields: ConnectFields): Buffer {
  const packet: IConnectPacket = {
    cmd: 'connect',
    protocolId: 'MQTT',
    protocolVersion: fields.protocolVersion,
    clientId: fields.clientId,
    clean: fields.clean,
    keepalive: fields.keepaliveS,
  };
  if (fields.protocolVersion === 5) {
    const properties: NonNullable<IConnectPacket['properties']> = {};
    if (fields.sessionExpiryS) properties.sessionExpiryInterval = fields.sessionExpiryS;
    if (fields.receiveMaximum !== undefined) properties.receiveMaximum = fields.receiveMaximum;
    if (fields.userProperties && fields.userProperties.length > 0) properties.userProperties = userPropertyObject(fields.userProperties);
    if (Object.keys(properties).length > 0) packet.properties = properties;
  }
  if (fields.username !== undefined) packet.username = fields.username;
  if (fields.password !== undefined) packet.password = Buffer.from(fields.password);
  if (fields.will) packet.will = { topic: fields.will.topic, payload: Buffer.from(fields.will.payload), qos: fields.will.qos, retain: fields.will.retain };
  return generate(packet, { protocolVersion: fields.protocolVersion });
}

/** Reads a variable byte integer at `offset`: its value and where it ends, or undefined if the bytes run out first. */
export function readVarInt(buffer: Buffer, offset: number, end: number): { value: number; next: number } | undefined {
  let value = 0;
  let multiplier = 1;
  for (let i = offset; i < end && i < offset + 4; i++) {
    const byte = buffer[i] as number;
    value += (byte & 0x7f) * multiplier;
    if ((byte & 0x80) === 0) return { value, next: i + 1 };
    multiplier *= 128;
  }
  if (end - offset >= 4) throw new MalformedPacketError('a length longer than four bytes');
  return undefined;
}

/** What a CONNACK's MQTT 5 properties ask of the client; absent ones keep the protocol's defaults. */
export interface ServerLimits {
  keepaliveS: number | undefined;
  receiveMaximum: number;
  maximumQos: 0 | 1 | 2;
  retainAvailable: boolean;
  maximumPacketSize: number;
}

/** The limits a broker sets by saying nothing. */
export function defaultServerLimits(): ServerLimits {
  return { keepaliveS: undefined, receiveMaximum: 0xffff, maximumQos: 2, retainAvailable: true, maximumPacketSize: Number.MAX_SAFE_INTEGER };
}

/** Where a property list that starts at `offset` ends, for packets whose properties fleetsim does not use. */
export function skipProperties(buffer: Buffer, offset: number, end: number): number {
  const length = readVarInt(buffer, offset, end);
  return length ? Math.min(end, length.next + length.value) : end;
}

const FIXED_PROPERTY_BYTES: Readonly<Record<number, number>> = {
  0x01: 1,
  0x17: 1,
  0x19: 1,
  0x24: 1,
  0x25: 1,
  0x28: 1,
  0x29: 1,
  0x2a: 1,
  0x13: 2,
  0x21: 2,
  0x22: 2,
  0x23: 2,
  0x02: 4,
  0x11: 4,
  0x18: 4,
  0x27: 4,
};
const VARIABLE_INTEGER_PROPERTY = 0x0b;
const STRING_PAIR_PROPERTY = 0x26;
/** UTF-8 strings and binary data: a two-byte length, then the bytes. */
const LENGTH_PREFIXED_PROPERTIES = new Set([0x03, 0x08, 0x09, 0x12, 0x15, 0x16, 0x1a, 0x1c, 0x1f]);

function cutShort(id: number): MalformedPacketError {
  return new MalformedPacketError(`property ${id} cut short`);
}

/** Where the value of property `id` that starts at `at` ends; a value past `stop` or an unknown id is malformed. */
function propertyEnd(buffer: Buffer, id: number, at: number, stop: number): number {
  let next = at;
  const fixed = FIXED_PROPERTY_BYTES[id];
  if (fixed !== undefined) next += fixed;
  else if (id === VARIABLE_INTEGER_PROPERTY) {
    const value = readVarInt(buffer, at, stop);
    if (!value) throw cutShort(id);
    next = value.next;
  } else if (LENGTH_PREFIXED_PROPERTIES.has(id) || id === STRING_PAIR_PROPERTY) {
    for (let part = id === STRING_PAIR_PROPERTY ? 2 : 1; part > 0; part--) {
      if (next + 2 > stop) throw cutShort(id);
      next += 2 + buffer.readUInt16BE(next);
    }
  } else throw new MalformedPacketError(`unknown property ${id}`);
  if (next > stop) throw cutShort(id);
  return next;
}

/**
 * Steps through the property list at `offset` (its length first, MQTT 5 2.2.2), handing `visit` each
 * property's id and where its value starts, once the value is known to lie inside the list; `visit`
 * returning true stops the walk. Returns where the list ends. Every reader of a broker's properties
 * goes through here, so bytes that run out are a MalformedPacketError and never an out-of-range read.
 */
export function walkProperties(buffer: Buffer, offset: number, end: number, visit?: (id: number, at: number) => unknown): number {
  const length = readVarInt(buffer, offset, end);
  if (!length || length.next + length.value > end) throw new MalformedPacketError('properties longer than the packet');
  const stop = length.next + length.value;
  let at = length.next;
  while (at < stop) {
    const id = buffer[at++] as number;
    const next = propertyEnd(buffer, id, at, stop);
    if (visit?.(id, at) === true) break;
    at = next;
  }
  return stop;
}

/** Reads the property list at `offset` into the limits a CONNACK sets; returns where the list ends. */
export function readServerLimits(buffer: Buffer, offset: number, end: number, limits: ServerLimits): number {
  const stop = walkProperties(buffer, offset, end, (id, at) => {
    if (id === 0x13) limits.keepaliveS = buffer.readUInt16BE(at);
    else if (id === 0x21) limits.receiveMaximum = buffer.readUInt16BE(at);
    else if (id === 0x24) limits.maximumQos = buffer[at] === 0 ? 0 : 1;
    else if (id === 0x25) limits.retainAvailable = buffer[at] === 1;
    else if (id === 0x27) limits.maximumPacketSize = buffer.readUInt32BE(at);
  });
  // Zero is a protocol error for both (MQTT 5 3.2.2.3.3, 3.2.2.3.6), not a broker that accepts nothing.
  if (limits.receiveMaximum === 0) throw new MalformedPacketError('Receive Maximum 0');
  if (limits.maximumPacketSize === 0) throw new MalformedPacketError('Maximum Packet Size 0');
  return stop;
}

export class MalformedPacketError extends Error {
  readonly code = 'MQTT_MALFORMED_PACKET';
  constructor(what: string) {
    super(`malformed packet: ${what}`);
  }
}

/** Where a complete packet's variable header and payload lie in the buffer handed to the handler. */
export interface PacketHandler {
  packet(type: PacketType, flags: number, buffer: Buffer, start: number, end: number): void;
}

/**
 * Cuts a byte stream into packets. A chunk usually holds whole packets (a run of PUBACKs); only a
 * packet split across chunks is kept back and joined with what follows.
 */
export class PacketReader {
  /** The start of a packet that has not fully arrived, and the chunks after it. */
  private held: Buffer[] | undefined;
  private heldBytes = 0;
  /** How many bytes the held packet needs in all, once its length is known (0 until then). */
  private needed = 0;

  constructor(private readonly handler: PacketHandler) {}

  push(chunk: Buffer): void {
    let buffer = chunk;
    const held = this.held;
    if (held !== undefined) {
      held.push(chunk);
      this.heldBytes += chunk.length;
      // A large packet arrives in many chunks: they are joined once, when the last one is here.
      if (this.needed > 0 && this.heldBytes < this.needed) return;
      buffer = Buffer.concat(held, this.heldBytes);
      this.held = undefined;
      this.heldBytes = 0;
      this.needed = 0;
    }
    const end = buffer.length;
    let offset = 0;
    while (offset < end) {
      // Two-byte acks are the common case: their length needs no loop.
      const lengthByte = offset + 1 < end ? (buffer[offset + 1] as number) : 0x80;
      let remaining: number;
      let bodyStart: number;
      if (lengthByte < 0x80) {
        remaining = lengthByte;
        bodyStart = offset + 2;
      } else {
        const length = readVarInt(buffer, offset + 1, end);
        if (!length) break;
        remaining = length.value;
        bodyStart = length.next;
      }
      const packetEnd = bodyStart + remaining;
      if (packetEnd > end) {
        this.needed = packetEnd - offset;
        break;
      }
      const first = buffer[offset] as number;
      offset = packetEnd;
      this.handler.packet(first >> 4, first & 0x0f, buffer, bodyStart, packetEnd);
    }
    if (offset < end) {
      const rest = buffer.subarray(offset);
      this.held = [rest];
      this.heldBytes = rest.length;
    }
  }
}
