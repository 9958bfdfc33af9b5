import type { Socket } from 'node:net';
import { elapsedMicros } from '../engine/clock.ts';
import { DISCONNECT, PINGREQ, PacketReader, PacketType, encodeAck, encodeConnect, encodePublish, encodeSubscribe, readVarInt, reasonLabel } from './mqtt-codec.ts';
import type { PacketHandler } from './mqtt-codec.ts';
import type { AckCallback, SessionListener, SessionOptions } from './mqtt.ts';
import type { Outcome } from './types.ts';

export interface ConnectionOwner {
  readonly listener: SessionListener;
  /** The socket closed; `wasConnected` if it had been accepted, `reason` the last failure seen on it. */
  connectionEnded(connection: MqttConnection, wasConnected: boolean, reason: string | undefined): void;
}

/** How publishes still waiting on a connection that died are labelled: the same as a loss the session sees itself. */
export const CONNECTION_CLOSED = 'connection lost: connection closed';

/** A short, stable label for a socket or TLS failure, as stats group them (`ECONNREFUSED`). */
export function errorLabel(error: unknown): string {
  if (error && typeof error === 'object') {
    const { code, message } = error as { code?: unknown; message?: unknown };
    if (typeof code === 'string') return code;
    if (typeof message === 'string') return message;
  }
  return String(error);
}

const NO_PACKET_IDS = 'no free packet id: 65,535 packets in flight';

function uncork(connection: MqttConnection): void {
  connection.uncork();
}

function keepaliveTick(connection: MqttConnection): void {
  connection.keepaliveTick();
}

function connectTimedOut(connection: MqttConnection): void {
  connection.connectTimedOut();
}

/**
 * One socket's MQTT conversation, from CONNECT to close: one handler per packet type, one buffer
 * written per packet, and every packet written in the same tick leaves in one write (the socket is
 * corked until the tick ends), so a burst of publishes costs one system call.
 */
export class MqttConnection implements PacketHandler {
  connected = false;
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
  private keepaliveTimer: NodeJS.Timeout | undefined;
  private sentSinceTick = false;
  private pingTicks = -1;
  private readonly closeWaiters: (() => void)[] = [];
  /** QoS 0 publishes waiting for their bytes to leave; the socket calls back in the order written. */
  private readonly written: AckCallback[] = [];
  private readonly onWritten = (error?: Error | null): void => {
    const callback = this.written.shift();
    if (callback) callback(error ? CONNECTION_CLOSED : undefined);
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

  publish(topic: string, payload: string, qos: 0 | 1 | 2, retain: boolean, callback: AckCallback): void {
    let packetId = 0;
    if (qos > 0) {
      packetId = this.allocatePacketId();
      if (packetId === 0) return callback(NO_PACKET_IDS);
      this.awaiting.set(packetId, callback);
    }
    const packet = encodePublish(topic, payload, qos, retain, packetId, this.version5);
    if (qos > 0) return this.write(packet);
    // QoS 0 ends once the socket has handed the bytes to the kernel: a device publishing QoS 0 flat
    // out then goes at the pace the broker reads, instead of piling packets up in memory.
    this.written.push(callback);
    this.write(packet, this.onWritten);
  }

  subscribe(filter: string, qos: 0 | 1 | 2, callback: AckCallback): void {
    const packetId = this.allocatePacketId();
    if (packetId === 0) return callback(NO_PACKET_IDS);
    this.awaiting.set(packetId, callback);
    this.write(encodeSubscribe(filter, qos, packetId, this.version5));
  }

  /** Resolves once the socket has closed, or after `timeoutMs` when the broker does not close its side. */
  close(graceful: boolean, timeoutMs: number): Promise<void> {
    this.closing = true;
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
      if (graceful && this.connected) {
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

  /** Runs every half keepalive: a PINGREQ when nothing else was sent since the last tick, a timeout when a whole keepalive passed unanswered. */
  keepaliveTick(): void {
    if (this.pingTicks >= 0) {
      if (++this.pingTicks >= 2) {
        this.lastError = 'Keepalive timeout';
        this.socket.destroy();
      }
      return;
    }
    if (!this.sentSinceTick) {
      this.write(PINGREQ);
      this.pingTicks = 0;
    }
    this.sentSinceTick = false;
  }

  connectTimedOut(): void {
    this.connectTimer = undefined;
    if (!this.connecting) return;
    this.endAttempt('timeout', 'timeout', this.started);
    this.socket.destroy();
  }

  packet(type: PacketType, flags: number, buffer: Buffer, start: number, end: number): void {
    if (this.ended || this.socket.destroyed) return;
    switch (type) {
      case PacketType.Connack:
        return this.connack(buffer, start);
      case PacketType.Puback:
      case PacketType.Pubcomp:
        return this.publishAcked(buffer, start, end);
      case PacketType.Pubrec:
        return this.publishReceived(buffer, start, end);
      case PacketType.Pubrel:
        return this.write(encodeAck(PacketType.Pubcomp, buffer.readUInt16BE(start)));
      case PacketType.Publish:
        return this.message(flags, buffer, start, end);
      case PacketType.Suback:
        return this.subscribeAcked(buffer, start, end);
      case PacketType.Pingresp:
        this.pingTicks = -1;
        return;
      case PacketType.Disconnect:
        this.lastError = `DISCONNECT reason ${end > start ? (buffer[start] as number) : 0}`;
        return;
      default:
        return;
    }
  }

  private connack(buffer: Buffer, start: number): void {
    // A CONNACK racing our timeout: the attempt already ended and this socket is being dropped.
    if (!this.connecting) return;
    const code = buffer[start + 1] as number;
    if (code === 0) {
      this.connected = true;
      this.startKeepalive();
      this.endAttempt('ok', undefined, this.onWire);
      return;
    }
    this.lastError = reasonLabel(code, 'Connection refused: ');
    this.endAttempt('failure', this.lastError, this.onWire);
    this.socket.destroy();
  }

  private publishAcked(buffer: Buffer, start: number, end: number): void {
    const packetId = buffer.readUInt16BE(start);
    const callback = this.awaiting.get(packetId);
    if (!callback) return;
    this.awaiting.delete(packetId);
    const code = end - start > 2 ? (buffer[start + 2] as number) : 0;
    callback(code >= 0x80 ? reasonLabel(code) : undefined);
  }

  private publishReceived(buffer: Buffer, start: number, end: number): void {
    const packetId = buffer.readUInt16BE(start);
    const code = end - start > 2 ? (buffer[start + 2] as number) : 0;
    if (code >= 0x80) {
      const callback = this.awaiting.get(packetId);
      this.awaiting.delete(packetId);
      callback?.(reasonLabel(code));
      return;
    }
    this.write(encodeAck(PacketType.Pubrel, packetId));
  }

  private subscribeAcked(buffer: Buffer, start: number, end: number): void {
    const packetId = buffer.readUInt16BE(start);
    const callback = this.awaiting.get(packetId);
    if (!callback) return;
    this.awaiting.delete(packetId);
    let offset = start + 2;
    if (this.version5) offset = this.skipProperties(buffer, offset, end);
    for (; offset < end; offset++) {
      const code = buffer[offset] as number;
      if (code >= 0x80) return callback(`SUBACK ${code}`);
    }
    callback();
  }

  private message(flags: number, buffer: Buffer, start: number, end: number): void {
    const qos = (flags >> 1) & 3;
    const topicBytes = buffer.readUInt16BE(start);
    let offset = start + 2 + topicBytes;
    const topic = buffer.toString('utf8', start + 2, offset);
    if (qos > 0) {
      const packetId = buffer.readUInt16BE(offset);
      offset += 2;
      this.write(encodeAck(qos === 1 ? PacketType.Puback : PacketType.Pubrec, packetId));
    }
    if (this.version5) offset = this.skipProperties(buffer, offset, end);
    // Copied: a payload kept in a reaction queue must not hold the whole socket chunk alive.
    const payload = Buffer.from(buffer.subarray(offset, end));
    if (this.connected) this.owner.listener.message(topic, payload);
  }

  private skipProperties(buffer: Buffer, offset: number, end: number): number {
    const length = readVarInt(buffer, offset, end);
    return length ? Math.min(end, length.next + length.value) : end;
  }

  private opened(): void {
    this.onWire = process.hrtime.bigint();
    this.write(encodeConnect(this.options));
  }

  private received(chunk: Buffer): void {
    try {
      this.reader.push(chunk);
    } catch (error) {
      this.failed(errorLabel(error));
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
    clearInterval(this.keepaliveTimer);
    this.keepaliveTimer = undefined;
    this.endAttempt('failure', this.lastError ?? 'connection closed before CONNACK', this.started);
    const wasConnected = this.connected;
    this.connected = false;
    if (!this.closing) {
      // The acks this connection owed fail before the loss is reported, as a device learns of both.
      const callbacks = [...this.awaiting.values()];
      this.awaiting.clear();
      for (const callback of callbacks) callback(CONNECTION_CLOSED);
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

  private startKeepalive(): void {
    const keepaliveS = this.options.keepaliveS;
    if (keepaliveS > 0) this.keepaliveTimer = setInterval(keepaliveTick, keepaliveS * 500, this);
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
    if (!this.corked) {
      this.corked = true;
      this.socket.cork();
      process.nextTick(uncork, this);
    }
    this.socket.write(buffer, written);
    this.sentSinceTick = true;
  }
}
