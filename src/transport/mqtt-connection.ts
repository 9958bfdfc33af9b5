import type { Socket } from 'node:net';
import { elapsedMicros } from '../engine/clock.ts';
import { DISCONNECT, MalformedPacketError, PINGREQ, PacketReader, PacketType, defaultServerLimits, encodeAck, encodeConnect, encodePublish, encodeSubscribe, readServerLimits, reasonLabel, skipProperties } from './mqtt-codec.ts';
import type { PacketHandler, ServerLimits } from './mqtt-codec.ts';
import { Keepalive } from './mqtt-keepalive.ts';
import type { KeepaliveOwner } from './mqtt-keepalive.ts';
import { CONNECTION_CLOSED, NO_PACKET_IDS, UNSUPPORTED_AUTH, errorLabel, lostLabel, refusal } from './mqtt-labels.ts';
import type { AckCallback, SessionListener, SessionOptions } from './mqtt.ts';
import type { Outcome } from './types.ts';

export interface ConnectionOwner {
  readonly listener: SessionListener;
  /** The socket closed; `wasConnected` if it had been accepted, `reason` the last failure seen on it. */
  connectionEnded(connection: MqttConnection, wasConnected: boolean, reason: string | undefined): void;
}

interface HeldPublish {
  readonly packet: Buffer;
  readonly packetId: number;
  /** Date.now() past which the caller has stopped waiting: the publish is dropped unsent. */
  readonly expiresAt: number;
}

function uncork(connection: MqttConnection): void {
  connection.uncork();
}

function connectTimedOut(connection: MqttConnection): void {
  connection.connectTimedOut();
}

/**
 * One socket's MQTT conversation, from CONNECT to close: one handler per packet type, one buffer
 * written per packet, and every packet written in the same tick leaves in one write (the socket is
 * corked until the tick ends), so a burst of publishes costs one system call.
 */
export class MqttConnection implements PacketHandler, KeepaliveOwner {
  connected = false;
  /** CONNACK accepted this connection; it stays set when a server DISCONNECT ends `connected` early. */
  private accepted = false;
  private connecting = true;
  private closing = false;
  private ended = false;
  private corked = false;
  private onWire: bigint;
  private lastError: string | undefined;
  private nextPacketId = 1;
  /** Acks awaited by packet id; an attempt the engine has given up on stays here, so its late ack is still told. */
  private readonly awaiting = new Map<number, AckCallback>();
  private readonly reader = new PacketReader(this);
  private readonly version5: boolean;
  private connectTimer: NodeJS.Timeout | undefined;
  private readonly keepalive = new Keepalive(this);
  /** Set by an MQTT 5 CONNACK with properties; MQTT 3.1.1 brokers set none. */
  private limits: ServerLimits | undefined;
  /** QoS 1 and 2 publishes sent and not yet acknowledged, which a v5 broker's Receive Maximum bounds. */
  private inFlight = 0;
  /** Publishes held back until the broker's Receive Maximum lets them go. */
  private queued: HeldPublish[] | undefined;
  /** Packet ids of SUBSCRIBEs awaiting SUBACK, with the QoS asked for, so an ack of the wrong kind cannot end the other. */
  private subscribing: Map<number, number> | undefined;
  /** Packet ids of QoS 2 publishes awaiting PUBREC or PUBCOMP: a PUBACK for one is a protocol error. */
  private exactlyOnce: Set<number> | undefined;
  /** QoS 2 packet ids whose PUBREC came and PUBREL went: only these may end at PUBCOMP. */
  private releasedIds: Set<number> | undefined;
  /** Incoming QoS 2 packet ids delivered and awaiting PUBREL: a resent PUBLISH is not delivered twice. */
  private releasing: Set<number> | undefined;
  private readonly closeWaiters: (() => void)[] = [];
  /** QoS 0 publishes waiting for their bytes to leave; the socket calls back in the order written. */
  private readonly written: AckCallback[] = [];
  private readonly onWritten = (error?: Error | null): void => {
    const callback = this.written.shift();
    // A destroyed socket still reports its corked bytes as written; they never reached the kernel.
    if (callback) callback(error || this.socket.destroyed ? CONNECTION_CLOSED : undefined);
  };

  constructor(
    private readonly owner: ConnectionOwner,
    private readonly socket: Socket,
    private readonly options: SessionOptions,
    private readonly started: bigint,
  ) {
    this.onWire = started;
    this.version5 = options.protocolVersion === 5;
    this.connectTimer = setTimeout(connectTimedOut, options.connectTimeoutMs, this);
    socket.once(options.tls ? 'secureConnect' : 'connect', () => this.opened());
    socket.on('data', (chunk: Buffer) => this.received(chunk));
    socket.on('error', (error: Error) => this.failed(errorLabel(error)));
    socket.once('close', () => this.closed());
  }

  publish(topic: string, payload: string, qos: 0 | 1 | 2, retain: boolean, timeoutMs: number, callback: AckCallback): void {
    const limits = this.limits;
    if (limits && qos > limits.maximumQos) return callback(reasonLabel(155));
    if (limits && retain && !limits.retainAvailable) return callback(reasonLabel(154));
    const packetId = qos > 0 ? this.allocatePacketId() : 0;
    if (qos > 0 && packetId === 0) return callback(NO_PACKET_IDS);
    let packet: Buffer;
    try {
      packet = encodePublish(topic, payload, qos, retain, packetId, this.version5);
    } catch (error) {
      return callback(refusal(error));
    }
    if (limits && packet.length > limits.maximumPacketSize) return callback(reasonLabel(149));
    if (qos === 0) {
      // QoS 0 ends once the socket has handed the bytes to the kernel: a device publishing QoS 0 flat
      // out then goes at the pace the broker reads, instead of piling packets up in memory.
      this.written.push(callback);
      return this.write(packet, this.onWritten);
    }
    this.awaiting.set(packetId, callback);
    if (qos === 2) (this.exactlyOnce ??= new Set()).add(packetId);
    if (limits && this.inFlight >= limits.receiveMaximum) {
      (this.queued ??= []).push({ packet, packetId, expiresAt: Date.now() + timeoutMs });
      return;
    }
    this.inFlight++;
    this.write(packet);
  }

  subscribe(filter: string, qos: 0 | 1 | 2, callback: AckCallback): void {
    const packetId = this.allocatePacketId();
    if (packetId === 0) return callback(NO_PACKET_IDS);
    let packet: Buffer;
    try {
      packet = encodeSubscribe(filter, qos, packetId, this.version5);
    } catch (error) {
      return callback(refusal(error));
    }
    if (this.limits && packet.length > this.limits.maximumPacketSize) return callback(reasonLabel(149));
    this.awaiting.set(packetId, callback);
    (this.subscribing ??= new Map()).set(packetId, qos);
    this.write(packet);
  }

  /** Resolves once the socket has closed, or after `timeoutMs` when the broker does not close its side. */
  close(graceful: boolean, timeoutMs: number): Promise<void> {
    this.closing = true;
    const wasConnected = this.connected;
    // Nothing more is written but the DISCONNECT: an ack or ping after end() would fail the close.
    this.connected = false;
    this.keepalive.stop();
    this.clearConnectTimer();
    // Every ack still awaited has already ended for the engine, so none is called back.
    this.awaiting.clear();
    if (this.connecting) {
      // Ended before the listener hears of it, so a listener that closes in turn finds nothing to end.
      this.connecting = false;
      this.owner.listener.connectEnded('failure', 'closed before CONNACK', 0);
    }
    if (this.ended) return Promise.resolve();
    return new Promise((resolve) => {
      const timer = setTimeout(() => this.socket.destroy(), timeoutMs);
      this.closeWaiters.push(() => {
        clearTimeout(timer);
        resolve();
      });
      if (graceful && wasConnected) {
        this.socket.write(DISCONNECT);
        this.socket.end();
      } else {
        this.socket.destroy();
      }
    });
  }

  uncork(): void {
    this.corked = false;
    this.socket.uncork();
  }

  ping(): void {
    this.write(PINGREQ);
  }

  keepaliveExpired(): void {
    this.lastError = 'Keepalive timeout';
    this.socket.destroy();
  }

  connectTimedOut(): void {
    this.connectTimer = undefined;
    if (!this.connecting) return;
    this.endAttempt('timeout', 'timeout', this.started);
    this.socket.destroy();
  }

  packet(type: PacketType, flags: number, buffer: Buffer, start: number, end: number): void {
    if (this.ended || this.socket.destroyed) return;
    // Every packet a client receives but PINGRESP and a v5 DISCONNECT starts with two bytes.
    if (end - start < 2 && type !== PacketType.Pingresp && type !== PacketType.Disconnect && type !== PacketType.Auth) {
      throw new MalformedPacketError(`packet type ${type} shorter than 2 bytes`);
    }
    switch (type) {
      case PacketType.Connack:
        return this.connack(buffer, start, end);
      case PacketType.Puback:
        return this.puback(buffer, start, end);
      case PacketType.Pubcomp:
        return this.pubcomp(buffer, start, end);
      case PacketType.Pubrec:
        return this.publishReceived(buffer, start, end);
      case PacketType.Pubrel:
        return this.released(buffer.readUInt16BE(start));
      case PacketType.Publish:
        return this.message(flags, buffer, start, end);
      case PacketType.Suback:
        return this.subscribeAcked(buffer, start, end);
      case PacketType.Pingresp:
        this.keepalive.answered();
        return;
      case PacketType.Disconnect:
        return this.serverDisconnect(buffer, start, end);
      case PacketType.Auth:
        // Enhanced authentication is not implemented: fail by name instead of waiting out the CONNECT timeout.
        return this.failed(UNSUPPORTED_AUTH);
      default:
        return;
    }
  }

  private connack(buffer: Buffer, start: number, end: number): void {
    // A CONNACK racing our timeout: the attempt already ended and this socket is being dropped.
    if (!this.connecting) return;
    const code = buffer[start + 1] as number;
    if (this.version5 && end > start + 3) {
      const limits = defaultServerLimits();
      readServerLimits(buffer, start + 2, end, limits);
      this.limits = limits;
    }
    if (code === 0) {
      this.connected = true;
      this.accepted = true;
      // An MQTT 5 broker may set the keepalive itself, and the client must use it (MQTT 5 3.2.2.3.14).
      this.keepalive.start(this.limits?.keepaliveS ?? this.options.keepaliveS);
      this.endAttempt('ok', undefined, this.onWire);
      return;
    }
    this.lastError = reasonLabel(code, 'Connection refused: ');
    this.endAttempt('failure', this.lastError, this.onWire);
    this.socket.destroy();
  }

  private puback(buffer: Buffer, start: number, end: number): void {
    const packetId = buffer.readUInt16BE(start);
    const callback = this.awaiting.get(packetId);
    if (!callback || this.subscribing?.has(packetId)) return;
    if (this.exactlyOnce?.has(packetId)) return this.protocolError(packetId, callback, 'PUBACK for a QoS 2 publish');
    this.publishAcked(packetId, callback, buffer, start, end);
  }

  private pubcomp(buffer: Buffer, start: number, end: number): void {
    const packetId = buffer.readUInt16BE(start);
    const callback = this.awaiting.get(packetId);
    if (!callback || this.subscribing?.has(packetId)) return;
    if (!this.releasedIds?.delete(packetId)) return this.protocolError(packetId, callback, this.exactlyOnce?.has(packetId) ? 'PUBCOMP without PUBREL' : 'PUBCOMP for a QoS 1 publish');
    this.exactlyOnce?.delete(packetId);
    this.publishAcked(packetId, callback, buffer, start, end);
  }

  private publishAcked(packetId: number, callback: AckCallback, buffer: Buffer, start: number, end: number): void {
    this.awaiting.delete(packetId);
    this.publishEnded();
    const code = end - start > 2 ? (buffer[start + 2] as number) : 0;
    callback(code >= 0x80 ? reasonLabel(code) : undefined);
  }

  private publishReceived(buffer: Buffer, start: number, end: number): void {
    const packetId = buffer.readUInt16BE(start);
    const code = end - start > 2 ? (buffer[start + 2] as number) : 0;
    const callback = this.awaiting.get(packetId);
    if (this.subscribing?.has(packetId)) return;
    if (callback && !this.exactlyOnce?.has(packetId)) return this.protocolError(packetId, callback, 'PUBREC for a QoS 1 publish');
    if (callback && code >= 0x80) {
      this.awaiting.delete(packetId);
      this.exactlyOnce?.delete(packetId);
      this.publishEnded();
      callback(reasonLabel(code));
      return;
    }
    if (callback) (this.releasedIds ??= new Set()).add(packetId);
    // A PUBREC for an id we never sent is still released, so the broker can forget it (MQTT 5: 0x92).
    this.write(encodeAck(PacketType.Pubrel, packetId, !callback && this.version5 ? 0x92 : 0));
  }

  /**
   * An ack of the wrong kind for a publish (MQTT 4.13): that publish fails by name, never as a
   * success, and the connection is closed as the protocol requires; what else waited on it is lost.
   */
  private protocolError(packetId: number, callback: AckCallback, what: string): void {
    this.awaiting.delete(packetId);
    this.exactlyOnce?.delete(packetId);
    this.releasedIds?.delete(packetId);
    const label = `protocol error: ${what}`;
    callback(label);
    this.failed(label);
  }

  /**
   * A v5 broker ends the connection (Session taken over, Server shutting down, ...): nothing more is
   * sent on it, so a QoS 0 publish after this point cannot count as written; what waited fails with
   * the broker's reason when the socket closes, and the device reconnects with backoff.
   */
  private serverDisconnect(buffer: Buffer, start: number, end: number): void {
    this.connected = false;
    this.failed(`server DISCONNECT ${reasonLabel(end > start ? (buffer[start] as number) : 0)}`);
  }

  /** A QoS 1 or 2 publish was answered: its place in the broker's Receive Maximum goes to a held one. */
  private publishEnded(): void {
    const queued = this.queued;
    if (queued && queued.length > 0) {
      const now = Date.now();
      for (let next = queued.shift(); next; next = queued.shift()) {
        if (next.expiresAt > now) return this.write(next.packet);
        // The caller has counted it as timed out; sent now it would only come back as a late ack.
        this.awaiting.delete(next.packetId);
        this.exactlyOnce?.delete(next.packetId);
      }
    }
    this.inFlight--;
  }

  private released(packetId: number): void {
    this.releasing?.delete(packetId);
    this.write(encodeAck(PacketType.Pubcomp, packetId));
  }

  private subscribeAcked(buffer: Buffer, start: number, end: number): void {
    const packetId = buffer.readUInt16BE(start);
    const callback = this.awaiting.get(packetId);
    const requested = this.subscribing?.get(packetId);
    if (!callback || requested === undefined) return;
    this.subscribing?.delete(packetId);
    this.awaiting.delete(packetId);
    let offset = start + 2;
    if (this.version5) offset = skipProperties(buffer, offset, end);
    let granted = requested;
    for (; offset < end; offset++) {
      const code = buffer[offset] as number;
      // v3.1.1's only failure code is 0x80, which MQTT 5 names Unspecified error.
      if (code >= 0x80) return callback(reasonLabel(code));
      granted = Math.min(granted, code);
    }
    // Accepted at a lower QoS than asked: a success, and the caller is told what it got.
    if (granted < requested) callback(undefined, granted);
    else callback();
  }

  private message(flags: number, buffer: Buffer, start: number, end: number): void {
    const qos = (flags >> 1) & 3;
    if (qos === 3) throw new MalformedPacketError('PUBLISH with QoS 3');
    const topicBytes = buffer.readUInt16BE(start);
    let offset = start + 2 + topicBytes;
    if (offset + (qos > 0 ? 2 : 0) > end) throw new MalformedPacketError('PUBLISH topic longer than the packet');
    const topic = buffer.toString('utf8', start + 2, offset);
    if (qos > 0) {
      const packetId = buffer.readUInt16BE(offset);
      offset += 2;
      this.write(encodeAck(qos === 1 ? PacketType.Puback : PacketType.Pubrec, packetId));
      if (qos === 2) {
        // Delivered at PUBLISH; the same id again before PUBREL is the broker resending it.
        this.releasing ??= new Set();
        if (this.releasing.has(packetId)) return;
        this.releasing.add(packetId);
      }
    }
    if (this.version5) offset = skipProperties(buffer, offset, end);
    // Copied: a payload kept in a reaction queue must not hold the whole socket chunk alive.
    const payload = Buffer.from(buffer.subarray(offset, end));
    if (this.connected) this.owner.listener.message(topic, payload);
  }

  private opened(): void {
    this.onWire = process.hrtime.bigint();
    let connect: Buffer;
    try {
      connect = encodeConnect(this.options);
    } catch (error) {
      // mqtt-packet refuses fields the profile check did not (a client id it cannot encode): this attempt fails.
      return this.failed(errorLabel(error));
    }
    this.write(connect);
  }

  private received(chunk: Buffer): void {
    try {
      this.reader.push(chunk);
    } catch (error) {
      // Only the broker's bytes end the connection here; the engine's own errors are not hidden as one.
      if (!(error instanceof MalformedPacketError)) throw error;
      this.failed(error.message);
    }
  }

  private failed(label: string): void {
    this.lastError = label;
    // A socket error while connecting ends the attempt; an established one ends at close.
    if (this.connecting) this.endAttempt('failure', label, this.onWire);
    this.socket.destroy();
  }

  private closed(): void {
    this.ended = true;
    this.clearConnectTimer();
    this.keepalive.stop();
    this.endAttempt('failure', this.lastError ?? 'connection closed before CONNACK', this.started);
    const wasConnected = this.accepted;
    this.connected = false;
    if (!this.closing) {
      // The acks this connection owed fail before the loss is reported, as a device learns of both.
      const callbacks = [...this.awaiting.values()];
      this.awaiting.clear();
      const label = this.lastError === undefined ? CONNECTION_CLOSED : lostLabel(this.lastError);
      for (const callback of callbacks) callback(label);
    }
    for (const resolve of this.closeWaiters.splice(0)) resolve();
    this.owner.connectionEnded(this, wasConnected, this.lastError);
  }

  private endAttempt(outcome: Outcome, error: string | undefined, from: bigint): void {
    if (!this.connecting) return;
    this.connecting = false;
    this.clearConnectTimer();
    this.owner.listener.connectEnded(outcome, error, elapsedMicros(from));
  }

  private clearConnectTimer(): void {
    clearTimeout(this.connectTimer);
    // Dropped, not just cleared: a held Timeout keeps this connection alive after it ended.
    this.connectTimer = undefined;
  }

  private allocatePacketId(): number {
    for (let tries = 0; tries < 0xffff; tries++) {
      const packetId = this.nextPacketId;
      this.nextPacketId = packetId === 0xffff ? 1 : packetId + 1;
      if (!this.awaiting.has(packetId)) return packetId;
    }
    return 0;
  }

  private write(buffer: Buffer, written?: (error?: Error | null) => void): void {
    if (this.closing) return;
    if (!this.corked) {
      this.corked = true;
      this.socket.cork();
      process.nextTick(uncork, this);
    }
    this.socket.write(buffer, written);
    this.keepalive.sentSinceTick = true;
  }
}
