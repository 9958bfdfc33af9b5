import { PacketType, encodeAck, reasonLabel, skipProperties } from './mqtt-codec.ts';
import { QOS2_DOWNGRADED, lostLabel } from './mqtt-labels.ts';
import type { AckCallback } from './mqtt.ts';
import type { SessionState } from './mqtt-session-state.ts';

/** What the acks need of their connection. */
export interface AckWriter {
  write(buffer: Buffer): void;
  /** The broker broke the protocol: the connection closes, labelled. */
  failed(label: string): void;
}

interface HeldPublish {
  readonly packet: Buffer;
  readonly packetId: number;
  /** Date.now() past which the caller has stopped waiting: the publish is dropped unsent. */
  readonly expiresAt: number;
}

/**
 * One connection's side of the acknowledgement flows (MQTT 4.3): a handler per ack packet type,
 * the order each QoS allows (QoS 1 ends at PUBACK; QoS 2 at PUBCOMP after PUBREC and PUBREL), the
 * broker's Receive Maximum, and, for a persistent session, what goes again after a reconnect.
 */
export class ConnectionAcks {
  /** A v5 broker's Receive Maximum, once its CONNACK said so. */
  receiveMaximum = 0xffff;
  /** QoS 1 and 2 publishes sent and not yet acknowledged, which the Receive Maximum bounds. */
  private inFlight = 0;
  /** Publishes held back until the broker's Receive Maximum lets them go. */
  private queued: HeldPublish[] | undefined;
  /** Packet ids of SUBSCRIBEs awaiting SUBACK, with the QoS asked for, so an ack of the wrong kind cannot end the other. */
  private subscribing: Map<number, number> | undefined;
  private readonly awaiting: Map<number, AckCallback>;

  constructor(
    private readonly connection: AckWriter,
    private readonly state: SessionState,
    private readonly version5: boolean,
    /** `mqtt.qos2Downgrade: fail`: a QoS 2 publish answered with PUBACK fails instead of counting as acked at QoS 1. */
    private readonly failDowngrade = false,
  ) {
    this.awaiting = state.awaiting;
  }

  publish(packet: Buffer, packetId: number, qos: 1 | 2, timeoutMs: number, callback: AckCallback): void {
    const state = this.state;
    this.awaiting.set(packetId, callback);
    if (qos === 2) (state.exactlyOnce ??= new Set()).add(packetId);
    state.unacked?.set(packetId, packet);
    this.send(packet, packetId, timeoutMs);
  }

  subscribe(packet: Buffer, packetId: number, qos: number, callback: AckCallback): void {
    this.awaiting.set(packetId, callback);
    (this.subscribing ??= new Map()).set(packetId, qos);
    this.connection.write(packet);
  }

  puback(buffer: Buffer, start: number, end: number): void {
    const packetId = buffer.readUInt16BE(start);
    const callback = this.awaiting.get(packetId);
    if (!callback || this.subscribing?.has(packetId)) return;
    const state = this.state;
    if (state.exactlyOnce?.has(packetId)) {
      // After PUBREC the exchange is QoS 2's own; a PUBACK then is no downgrade but a broken flow.
      if (state.releasedIds?.has(packetId)) return this.protocolError(packetId, callback, 'PUBACK for a QoS 2 publish after PUBREC');
      return this.downgraded(packetId, callback, buffer, start, end);
    }
    this.acked(packetId, callback, buffer, start, end);
  }

  /**
   * PUBACK for a QoS 2 publish: the broker took it at QoS 1, as RabbitMQ documents it does with
   * every QoS 2 publish. The exchange is over for the broker too, so the connection stays up; the
   * publish counts as acked at QoS 1 (told to the caller as granted QoS 1) or, if asked, as failed.
   */
  private downgraded(packetId: number, callback: AckCallback, buffer: Buffer, start: number, end: number): void {
    const code = end - start > 2 ? (buffer[start + 2] as number) : 0;
    this.state.forget(packetId);
    this.ended();
    if (code >= 0x80) return callback(reasonLabel(code), true);
    if (this.failDowngrade) return callback(QOS2_DOWNGRADED, true);
    callback(undefined, true, 1);
  }

  pubrec(buffer: Buffer, start: number, end: number): void {
    const packetId = buffer.readUInt16BE(start);
    const code = end - start > 2 ? (buffer[start + 2] as number) : 0;
    const callback = this.awaiting.get(packetId);
    if (this.subscribing?.has(packetId)) return;
    const state = this.state;
    if (callback && !state.exactlyOnce?.has(packetId)) return this.protocolError(packetId, callback, 'PUBREC for a QoS 1 publish');
    if (callback && code >= 0x80) {
      state.forget(packetId);
      this.ended();
      callback(reasonLabel(code), true);
      return;
    }
    if (callback) (state.releasedIds ??= new Set()).add(packetId);
    // A PUBREC for an id we never sent is still released, so the broker can forget it (MQTT 5: 0x92).
    this.connection.write(encodeAck(PacketType.Pubrel, packetId, !callback && this.version5 ? 0x92 : 0));
  }

  pubcomp(buffer: Buffer, start: number, end: number): void {
    const packetId = buffer.readUInt16BE(start);
    const callback = this.awaiting.get(packetId);
    if (!callback || this.subscribing?.has(packetId)) return;
    const state = this.state;
    if (!state.releasedIds?.has(packetId)) return this.protocolError(packetId, callback, state.exactlyOnce?.has(packetId) ? 'PUBCOMP without PUBREL' : 'PUBCOMP for a QoS 1 publish');
    this.acked(packetId, callback, buffer, start, end);
  }

  /** PUBREL for a message the broker delivered at QoS 2: it may now forget the id, and so may we. */
  pubrel(packetId: number): void {
    this.state.releasing?.delete(packetId);
    this.connection.write(encodeAck(PacketType.Pubcomp, packetId));
  }

  suback(buffer: Buffer, start: number, end: number): void {
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
      if (code >= 0x80) return callback(reasonLabel(code), true);
      granted = Math.min(granted, code);
    }
    // Accepted at a lower QoS than asked: a success, and the caller is told what it got.
    if (granted < requested) callback(undefined, true, granted);
    else callback();
  }

  /**
   * A persistent session reconnected (MQTT 4.4): with Session Present, every unacknowledged PUBLISH
   * goes again with DUP set and its original packet id, and every unanswered PUBREL goes again;
   * without it the broker kept nothing, the client must discard its state, and those publishes fail.
   */
  resume(sessionPresent: boolean, timeoutMs: number): void {
    const state = this.state;
    const unacked = state.unacked;
    if (!unacked || unacked.size === 0) return;
    if (!sessionPresent) return state.failAll(lostLabel('the broker kept no session'));
    for (const [packetId, packet] of unacked) {
      if (state.releasedIds?.has(packetId)) {
        // Until its PUBCOMP, a QoS 2 exchange holds a place in the broker's Receive Maximum.
        this.inFlight++;
        this.connection.write(encodeAck(PacketType.Pubrel, packetId));
        continue;
      }
      // The buffer's old socket is gone, so setting DUP in place cannot change bytes still queued there.
      packet[0] = (packet[0] as number) | 0x08;
      this.send(packet, packetId, timeoutMs);
    }
  }

  /** The connection ended: its SUBSCRIBEs fail (a session never resends them), and so does everything else unless the session carries it. */
  connectionLost(label: string): void {
    if (!this.state.persistent) return this.state.failAll(label);
    const subscribing = this.subscribing;
    if (!subscribing) return;
    const callbacks: AckCallback[] = [];
    for (const packetId of subscribing.keys()) {
      const callback = this.awaiting.get(packetId);
      this.awaiting.delete(packetId);
      if (callback) callbacks.push(callback);
    }
    subscribing.clear();
    for (const callback of callbacks) callback(label);
  }

  /** A QoS 1 or 2 PUBLISH goes out now, or waits while the broker's Receive Maximum is reached. */
  private send(packet: Buffer, packetId: number, timeoutMs: number): void {
    if (this.inFlight >= this.receiveMaximum) {
      (this.queued ??= []).push({ packet, packetId, expiresAt: Date.now() + timeoutMs });
      return;
    }
    this.inFlight++;
    this.connection.write(packet);
  }

  private acked(packetId: number, callback: AckCallback, buffer: Buffer, start: number, end: number): void {
    this.state.forget(packetId);
    this.ended();
    const code = end - start > 2 ? (buffer[start + 2] as number) : 0;
    callback(code >= 0x80 ? reasonLabel(code) : undefined, true);
  }

  /**
   * An ack of the wrong kind for a publish (MQTT 4.13): that publish fails by name, never as a
   * success, and the connection is closed as the protocol requires; what else waited on it is lost.
   */
  private protocolError(packetId: number, callback: AckCallback, what: string): void {
    this.state.forget(packetId);
    const label = `protocol error: ${what}`;
    callback(label);
    this.connection.failed(label);
  }

  /** A QoS 1 or 2 publish was answered: its place in the broker's Receive Maximum goes to a held one. */
  private ended(): void {
    const queued = this.queued;
    if (queued && queued.length > 0) {
      const now = Date.now();
      for (let next = queued.shift(); next; next = queued.shift()) {
        if (next.expiresAt > now) return this.connection.write(next.packet);
        // The caller has counted it as timed out; sent now it would only come back as a late ack.
        this.state.forget(next.packetId);
      }
    }
    this.inFlight--;
  }
}
