import type { Duplex } from 'node:stream';
import { elapsedMicros } from '../../util/clock.ts';
import {
  DISCONNECT,
  DISCONNECT_ENDING_SESSION,
  DISCONNECT_PROTOCOL_ERROR,
  MalformedPacketError,
  PINGREQ,
  PacketReader,
  PacketType,
  defaultServerLimits,
  encodeAck,
  encodeConnect,
  encodePublish,
  encodeSubscribe,
  readServerLimits,
  reasonLabel,
  walkProperties,
} from './mqtt-codec.ts';
import type { PacketHandler, ServerLimits } from './mqtt-codec.ts';
import { listenTo } from './connection-socket.ts';
import { Keepalive } from './mqtt-keepalive.ts';
import type { KeepaliveOwner } from './mqtt-keepalive.ts';
import { ConnectionAcks } from './mqtt-acks.ts';
import { InboundProcessing } from './mqtt-inbound-processing.ts';
import { encodePublishWith } from './mqtt-publish-extras.ts';
import type { PublishExtras } from './mqtt-publish-extras.ts';
import { CONNECTION_CLOSED, NO_PACKET_IDS, STALE_SESSION, UNSUPPORTED_AUTH, errorLabel, lostLabel, refusal } from './mqtt-labels.ts';
import type { AckCallback, OpenedStream, SessionListener, SessionOptions } from './mqtt.ts';
import type { SessionState } from './mqtt-session-state.ts';
import type { Outcome } from '../types.ts';

export interface ConnectionOwner {
  readonly listener: SessionListener;
  /** The socket closed; `wasConnected` if it had been accepted, `reason` the last failure seen on it. */
  connectionEnded(connection: MqttConnection, wasConnected: boolean, reason: string | undefined): void;
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
  /** A CONNACK said Session Present to a client with no session state: the session discards that session, then connects again. */
  foundStaleSession = false;
  /** CONNACK accepted this connection; it stays set when a server DISCONNECT ends `connected` early. */
  private accepted = false;
  private connecting = true;
  private closing = false;
  private ended = false;
  private corked = false;
  private onWire: bigint;
  private lastError: string | undefined;
  private readonly acks: ConnectionAcks;
  /** A TCP or TLS socket, or a WebSocket's stream. */
  private readonly socket: Duplex;
  private readonly reader = new PacketReader(this);
  private readonly version5: boolean;
  private connectTimer: NodeJS.Timeout | undefined;
  private readonly keepalive = new Keepalive(this);
  /** Set when the device takes time over each message it receives: its acks go out one per `processingMs`. */
  private readonly processing: InboundProcessing | undefined;
  /** Set by an MQTT 5 CONNACK with properties; MQTT 3.1.1 brokers set none. */
  private limits: ServerLimits | undefined;
  /** Made when first needed: most connections close once, at the end, and an idle one holds nothing here. */
  private closeWaiters: (() => void)[] | undefined;
  /** QoS 0 publishes waiting for their bytes to leave; the socket calls back in the order written. Made at the first. */
  private written: AckCallback[] | undefined;
  private onWritten: ((error?: Error | null) => void) | undefined;

  constructor(
    private readonly owner: ConnectionOwner,
    opened: OpenedStream,
    private readonly options: SessionOptions,
    private readonly started: bigint,
    private readonly state: SessionState,
    /** A stale session found on this connection is discarded (MQTT 3.1.1) rather than failing the attempt. */
    private readonly discardsStale = false,
  ) {
    this.acks = new ConnectionAcks(this, state, options.protocolVersion === 5, options.qos2Downgrade === 'fail');
    this.onWire = started;
    this.version5 = options.protocolVersion === 5;
    this.connectTimer = setTimeout(connectTimedOut, options.connectTimeoutMs, this);
    this.processing = options.processingMs ? new InboundProcessing(this, options.processingMs) : undefined;
    this.socket = opened.stream;
    listenTo(opened, this);
  }

  publish(topic: string, payload: string | Buffer, qos: 0 | 1 | 2, retain: boolean, timeoutMs: number, callback: AckCallback, extras?: PublishExtras): void {
    const limits = this.limits;
    if (limits && qos > limits.maximumQos) return callback(reasonLabel(155));
    if (limits && retain && !limits.retainAvailable) return callback(reasonLabel(154));
    const packetId = qos > 0 ? this.state.allocatePacketId() : 0;
    if (qos > 0 && packetId === 0) return callback(NO_PACKET_IDS);
    let packet: Buffer;
    try {
      packet = extras === undefined ? encodePublish(topic, payload, qos, retain, packetId, this.version5) : encodePublishWith(topic, payload, qos, retain, packetId, this.version5, extras);
    } catch (error) {
      return callback(refusal(error));
    }
    if (limits && packet.length > limits.maximumPacketSize) return callback(reasonLabel(149));
    if (qos === 0) {
      // QoS 0 ends once the socket has handed the bytes to the kernel: a device publishing QoS 0 flat
      // out then goes at the pace the broker reads, instead of piling packets up in memory.
      (this.written ??= []).push(callback);
      return this.write(packet, (this.onWritten ??= this.qos0Written.bind(this)));
    }
    this.acks.publish(packet, packetId, qos, timeoutMs, callback);
  }

  private qos0Written(error?: Error | null): void {
    const callback = this.written?.shift();
    // A destroyed socket still reports its corked bytes as written; they never reached the kernel.
    if (callback) callback(error || this.socket.destroyed ? CONNECTION_CLOSED : undefined);
  }

  subscribe(filter: string, qos: 0 | 1 | 2, callback: AckCallback): void {
    const packetId = this.state.allocatePacketId();
    if (packetId === 0) return callback(NO_PACKET_IDS);
    let packet: Buffer;
    try {
      packet = encodeSubscribe(filter, qos, packetId, this.version5);
    } catch (error) {
      return callback(refusal(error));
    }
    if (this.limits && packet.length > this.limits.maximumPacketSize) return callback(reasonLabel(149));
    this.acks.subscribe(packet, packetId, qos, callback);
  }

  /** Resolves once the socket has closed, or after `timeoutMs` when the broker does not close its side. */
  close(graceful: boolean, timeoutMs: number, keepSession = false): Promise<void> {
    this.closing = true;
    const wasConnected = this.connected;
    // Nothing more is written but the DISCONNECT: an ack or ping after end() would fail the close.
    this.connected = false;
    this.keepalive.stop();
    this.clearConnectTimer();
    // Every ack still awaited has already ended for the engine, so none is called back.
    this.state.discard();
    if (this.connecting) {
      // Ended before the listener hears of it, so a listener that closes in turn finds nothing to end.
      this.connecting = false;
      this.owner.listener.connectEnded('failure', 'closed before CONNACK', 0, false);
    }
    if (this.ended) return Promise.resolve();
    return new Promise((resolve) => {
      const timer = setTimeout(() => this.socket.destroy(), timeoutMs);
      (this.closeWaiters ??= []).push(() => {
        clearTimeout(timer);
        resolve();
      });
      if (graceful && wasConnected) {
        this.socket.write(keepSession ? DISCONNECT : this.lastDisconnect());
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
        return this.acks.puback(buffer, start, end);
      case PacketType.Pubcomp:
        return this.acks.pubcomp(buffer, start, end);
      case PacketType.Pubrec:
        return this.acks.pubrec(buffer, start, end);
      case PacketType.Pubrel:
        return this.acks.pubrel(buffer.readUInt16BE(start));
      case PacketType.Publish:
        return this.message(flags, buffer, start, end);
      case PacketType.Suback:
        return this.acks.suback(buffer, start, end);
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
      this.acks.receiveMaximum = limits.receiveMaximum;
    }
    const sessionPresent = ((buffer[start] as number) & 1) === 1;
    // Session Present to a client with no session state: held packet ids and queued messages of a
    // session this process never had. Resumed, new ids would collide with held ones and be dropped.
    if (code === 0 && sessionPresent && !this.state.established) return this.staleSession();
    if (code === 0) {
      this.connected = true;
      this.accepted = true;
      // An MQTT 5 broker may set the keepalive itself, and the client must use it (MQTT 5 3.2.2.3.14).
      this.keepalive.start(this.limits?.keepaliveS ?? this.options.keepaliveS);
      // Before the device hears it is connected, so what the session carried goes out ahead of anything new.
      if (this.state.persistent) {
        this.state.established = true;
        this.acks.resume(sessionPresent, this.options.connectTimeoutMs);
      }
      this.endAttempt('ok', undefined, this.onWire);
      return;
    }
    this.lastError = reasonLabel(code, 'Connection refused: ');
    this.endAttempt('failure', this.lastError, this.onWire, true);
    this.socket.destroy();
  }

  /**
   * MQTT 5 3.2.2-4: a client without session state that gets Session Present closes the connection
   * (DISCONNECT 0x82 Protocol Error); MQTT 3.1.1 lets it choose, and fleetsim closes too. Nothing
   * more is written here, and messages the old session had queued reach no device. On a persistent
   * session's first connection the session then discards the broker's copy and connects again;
   * anywhere else (a clean session, or Session Present again after the discard) the attempt fails.
   */
  private staleSession(): void {
    this.closing = true;
    this.clearConnectTimer();
    if (this.discardsStale) {
      this.connecting = false;
      this.foundStaleSession = true;
    } else {
      this.lastError = STALE_SESSION;
      this.endAttempt('failure', STALE_SESSION, this.onWire, true);
    }
    this.socket.write(this.version5 ? DISCONNECT_PROTOCOL_ERROR : DISCONNECT);
    this.socket.end();
    // A broker that does not close its side after a DISCONNECT is not waited for.
    const timer = setTimeout(() => this.socket.destroy(), this.options.connectTimeoutMs);
    (this.closeWaiters ??= []).push(() => clearTimeout(timer));
  }

  /**
   * The run's last DISCONNECT: a persistent MQTT 5 session sets its Session Expiry to 0 on the way
   * out, so the broker holds nothing of the run afterwards, unless the profile keeps it.
   */
  private lastDisconnect(): Buffer {
    const options = this.options;
    return this.version5 && this.state.persistent && (options.sessionExpiryS ?? 0) > 0 && options.keepSessionAtEnd !== true ? DISCONNECT_ENDING_SESSION : DISCONNECT;
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
      const ack = encodeAck(qos === 1 ? PacketType.Puback : PacketType.Pubrec, packetId);
      if (this.processing) this.processing.ack(ack);
      else this.write(ack);
      if (qos === 2) {
        // Delivered at PUBLISH; the same id again before PUBREL is the broker resending it.
        const releasing = (this.state.releasing ??= new Set());
        if (releasing.has(packetId)) return;
        releasing.add(packetId);
      }
    }
    let properties: Buffer | undefined;
    if (this.version5) {
      const listStart = offset;
      // Checked here, where the broker's bytes can end the connection, so what reads them later never meets a list cut short.
      offset = walkProperties(buffer, offset, end);
      // One byte is an empty list: most publishes carry none, and nothing is handed on for them.
      if (offset - listStart > 1) properties = buffer.subarray(listStart, offset);
    }
    // Copied: a payload kept in a reaction queue must not hold the whole socket chunk alive.
    const payload = Buffer.from(buffer.subarray(offset, end));
    if (this.connected) this.owner.listener.message(topic, payload, properties);
  }

  opened(): void {
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

  received(chunk: Buffer): void {
    try {
      this.reader.push(chunk);
    } catch (error) {
      // Only the broker's bytes end the connection here; the engine's own errors are not hidden as one.
      if (!(error instanceof MalformedPacketError)) throw error;
      this.failed(error.message);
    }
  }

  failed(label: string): void {
    this.lastError = label;
    // A socket error while connecting ends the attempt; an established one ends at close.
    if (this.connecting) this.endAttempt('failure', label, this.onWire);
    this.socket.destroy();
  }

  closed(): void {
    if (this.ended) return;
    this.ended = true;
    this.clearConnectTimer();
    this.keepalive.stop();
    this.processing?.stop();
    this.endAttempt('failure', this.lastError ?? 'connection closed before CONNACK', this.started);
    const wasConnected = this.accepted;
    this.connected = false;
    if (!this.closing) {
      // The acks this connection owed fail before the loss is reported, as a device learns of both.
      // A persistent session carries its publishes to the next connection; SUBSCRIBEs are never resent.
      this.acks.connectionLost(this.lastError === undefined ? CONNECTION_CLOSED : lostLabel(this.lastError));
    }
    const waiters = this.closeWaiters;
    this.closeWaiters = undefined;
    if (waiters) for (const resolve of waiters) resolve();
    this.owner.connectionEnded(this, wasConnected, this.lastError);
  }

  private endAttempt(outcome: Outcome, error: string | undefined, from: bigint, answered = outcome === 'ok'): void {
    if (!this.connecting) return;
    this.connecting = false;
    this.clearConnectTimer();
    this.owner.listener.connectEnded(outcome, error, elapsedMicros(from), answered);
  }

  private clearConnectTimer(): void {
    clearTimeout(this.connectTimer);
    // Dropped, not just cleared: a held Timeout keeps this connection alive after it ended.
    this.connectTimer = undefined;
  }

  write(buffer: Buffer, written?: (error?: Error | null) => void): void {
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
