import type { AckCallback } from './mqtt.ts';

/**
 * What an MQTT session holds beyond one connection (MQTT 3.1.1 and 5, §4.1): the acks awaited by
 * packet id and the QoS 2 exchanges under way. A clean session gets a fresh one per connection. A
 * persistent one (`clean: false`) keeps it across reconnects, with the unacknowledged PUBLISH
 * packets, so they can be sent again with their original packet ids, and so new ids never collide
 * with ones the broker still holds.
 */
export class SessionState {
  nextPacketId = 1;
  /**
   * A broker has accepted this session in this process. Until then the client has no session state
   * (MQTT 5 3.2.2-4), so a Session Present answer means a session left by another run, whose held
   * packet ids this state knows nothing of: it is discarded, never resumed.
   */
  established = false;
  /** Acks awaited by packet id; an attempt the engine has given up on stays here, so its late ack is still told. */
  readonly awaiting = new Map<number, AckCallback>();
  /** Packet ids of QoS 2 publishes awaiting PUBREC or PUBCOMP: a PUBACK for one is a protocol error. */
  exactlyOnce: Set<number> | undefined;
  /** QoS 2 packet ids whose PUBREC came and PUBREL went: only these may end at PUBCOMP. */
  releasedIds: Set<number> | undefined;
  /** Incoming QoS 2 packet ids delivered and awaiting PUBREL: a resent PUBLISH is not delivered twice. */
  releasing: Set<number> | undefined;
  /** Persistent sessions only: each QoS 1 and 2 PUBLISH not yet acknowledged, in the order sent. */
  readonly unacked: Map<number, Buffer> | undefined;

  constructor(readonly persistent: boolean) {
    if (persistent) this.unacked = new Map();
  }

  /** 0 when all 65,535 ids are taken. */
  allocatePacketId(): number {
    for (let tries = 0; tries < 0xffff; tries++) {
      const packetId = this.nextPacketId;
      this.nextPacketId = packetId === 0xffff ? 1 : packetId + 1;
      if (!this.awaiting.has(packetId)) return packetId;
    }
    return 0;
  }

  /** A publish ended (acked, refused, or dropped unsent): its id is free again. */
  forget(packetId: number): void {
    this.awaiting.delete(packetId);
    this.exactlyOnce?.delete(packetId);
    this.releasedIds?.delete(packetId);
    this.unacked?.delete(packetId);
  }

  /** The session ends: nothing awaited is told (the engine has already ended each attempt). */
  discard(): void {
    this.awaiting.clear();
    this.exactlyOnce?.clear();
    this.releasedIds?.clear();
    this.unacked?.clear();
  }

  /** Fails every awaited ack with `label` and forgets them: the broker holds none of them any more. */
  failAll(label: string): void {
    const callbacks = [...this.awaiting.values()];
    this.awaiting.clear();
    this.exactlyOnce?.clear();
    this.releasedIds?.clear();
    this.unacked?.clear();
    this.releasing?.clear();
    for (const callback of callbacks) callback(label);
  }
}
