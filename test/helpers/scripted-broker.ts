import { createServer } from 'node:net';
import type { AddressInfo, Socket } from 'node:net';
import { generate, parser } from 'mqtt-packet';
import type { IConnackPacket, Packet } from 'mqtt-packet';

/** How the broker misbehaves; every field defaults to the well-behaved answer. */
export interface BrokerScript {
  /**
   * `serviceMs`: one publish at a time across every client, each taking that long: a broker of known
   * capacity (1000 / serviceMs publishes a second) whose answers queue once it is full.
   */
  puback?: 'immediate' | 'never' | { delayMs: number } | { serviceMs: number } | { reasonCode: number };
  /** 'auth' answers CONNECT with an MQTT 5 AUTH packet (Continue authentication), as a broker wanting enhanced auth would. */
  connack?: 'accept' | { returnCode: number } | 'never' | 'auth';
  /** The ack a QoS 1 publish gets: the right one, or the wrong kind (a broker with a protocol bug). */
  qos1Ack?: 'puback' | 'pubrec';
  /** The first ack a QoS 2 publish gets: PUBREC as the protocol says, or a wrong PUBACK or PUBCOMP. */
  qos2Ack?: 'pubrec' | 'puback' | 'pubcomp';
  /** SUBACK return codes per subscription instead of the QoS asked for (e.g. `[0]` or `[0x87]`). */
  granted?: number[];
  /**
   * Sessions kept by client id, as MQTT says: CleanSession 1 / Clean Start 1 discards one; a 3.1.1
   * session outlives its connection when it began with CleanSession 0, a v5 one while its Session
   * Expiry (from CONNECT, or the DISCONNECT's) is above 0. CONNACK says Session Present for a kept one.
   */
  keepSessions?: boolean;
  /**
   * Paho's broker (with `keepSessions`): a QoS 2 id stays held from PUBLISH until PUBREL, across
   * connections of the session, and a PUBLISH with DUP 0 reusing a held id is dropped as a duplicate
   * ([MQTT-3.3.1-2]) though still answered with PUBREC. Messages taken are listed in `accepted`.
   */
  holdQos2Ids?: boolean;
  /** 'never' holds every QoS 2 message at the broker unanswered, as a client killed before PUBREC would leave it. */
  pubrec?: 'immediate' | 'never';
  /** CONNACK says Session Present 1 to every client, whatever it asked: a broker breaking MQTT 3.2.2-2. */
  alwaysSessionPresent?: boolean;
  /** Sent right after a CONNACK that says Session Present: messages the kept session had queued. */
  queuedForSession?: Packet[];
  pubcomp?: 'immediate' | 'never';
  /** 'never' lets a client's keepalive expire, as a broker that hung would. */
  pingresp?: 'immediate' | 'never';
  /** 'stalled' stops reading a client once it is connected, until `resumeReading()`: a broker that cannot keep up. */
  reading?: 'always' | 'stalled';
  /** MQTT 5 CONNACK properties (Receive Maximum, Server Keep Alive, Maximum QoS, ...) for v5 clients. */
  connackProperties?: IConnackPacket['properties'];
  /** Packets sent to a client right after its SUBACK, as a broker delivering (or resending) messages would. */
  afterSuback?: Packet[];
  /**
   * Raw bytes sent ahead of the first SUBACK the broker gives (later ones come alone), for packets
   * mqtt-packet will not encode (a property list cut short). A broker may deliver before it acks (MQTT 3.8.4).
   */
  beforeFirstSuback?: Buffer[];
}

/** A packet as the broker received it; CONNECTs note `clean` and the MQTT 5 Session Expiry Interval. */
export interface LoggedPacket {
  readonly cmd: string;
  readonly messageId?: number;
  readonly dup?: boolean;
  readonly qos?: number;
  readonly payload?: string;
  readonly clean?: boolean;
  readonly sessionExpiry?: number;
  /** PUBLISH: its topic. */
  readonly topic?: string;
  /** CONNECT and PUBLISH: the MQTT 5 properties as mqtt-packet parsed them. */
  readonly properties?: Readonly<Record<string, unknown>>;
  readonly at: number;
}

export interface ScriptedBroker {
  readonly url: string;
  /** PUBLISH packets received, retransmissions included. */
  readonly publishes: number;
  readonly connects: number;
  /** PUBLISH packets that arrived on a connection after the broker sent it a DISCONNECT. */
  readonly publishesAfterDisconnect: number;
  /** The most QoS 1 publishes one client had unacknowledged at once. */
  readonly maxInFlight: number;
  /** How many packets of a kind (`pubcomp`, `pubrec`, ...) clients sent. */
  received(cmd: string): number;
  /** Destroys every client socket, as a lost connection would. */
  dropAll(): void;
  /** Sends every MQTT 5 client a DISCONNECT with this reason code and stops answering it (the socket stays open until the client closes it). */
  disconnectAll(reasonCode: number): void;
  /** Packets received, in order, with the fields tests look at. */
  readonly log: readonly LoggedPacket[];
  /** Messages the broker took (a QoS 2 PUBLISH dropped as a duplicate is not among them). */
  readonly accepted: readonly { readonly clientId: string; readonly topic: string; readonly payload: string; readonly qos: number }[];
  /** QoS 2 PUBLISHes dropped because they reused a held id with DUP 0 (`holdQos2Ids`). */
  readonly droppedDuplicates: number;
  /** DISCONNECTs received, with the MQTT 5 reason code and Session Expiry they carried. */
  readonly disconnects: readonly { readonly reasonCode: number | undefined; readonly sessionExpiry: number | undefined }[];
  /** Client ids the broker keeps a session for. */
  sessionsKept(): string[];
  /** Reads again from clients a `reading: 'stalled'` script stopped reading. */
  resumeReading(): void;
  close(): Promise<void>;
}

// mqtt-packet keeps the parse options on the parser; the version is only known once CONNECT arrives.
interface VersionedParser {
  settings: { protocolVersion?: number };
}

/**
 * A minimal MQTT 3.1.1/5 server for behaviours a real broker will not show on demand
 * (withheld or failing acknowledgements, refused or unanswered CONNECTs). It routes nothing.
 */
export async function startScriptedBroker(script: BrokerScript = {}): Promise<ScriptedBroker> {
  const sockets = new Set<Socket>();
  const timers = new Set<NodeJS.Timeout>();
  let publishes = 0;
  let connects = 0;
  let publishesAfterDisconnect = 0;
  let maxInFlight = 0;
  const counts = new Map<string, number>();
  const log: LoggedPacket[] = [];
  const disconnectors = new Set<(reasonCode: number) => void>();
  /** Kept sessions by client id: whether they outlive a connection, and their held QoS 2 ids. */
  const sessions = new Map<string, { expires: boolean; held: Set<number> }>();
  const accepted: { clientId: string; topic: string; payload: string; qos: number }[] = [];
  const disconnects: { reasonCode: number | undefined; sessionExpiry: number | undefined }[] = [];
  let droppedDuplicates = 0;
  let subacks = 0;
  /** When the one server slot of a `serviceMs` script is free again (performance.now() ms). */
  let serviceFreeAt = 0;

  const server = createServer((socket) => {
    sockets.add(socket);
    socket.setNoDelay(true);
    let version = 4;
    let inFlight = 0;
    let silenced = false;
    let clientId = '';
    const incoming = parser();
    const send = (packet: Packet): void => {
      if (!socket.destroyed && !silenced) socket.write(generate(packet, { protocolVersion: version }));
    };
    const disconnect = (reasonCode: number): void => {
      if (version !== 5) return;
      send({ cmd: 'disconnect', reasonCode });
      silenced = true;
    };
    disconnectors.add(disconnect);
    socket.on('close', () => {
      disconnectors.delete(disconnect);
      if (sessions.get(clientId)?.expires === true) sessions.delete(clientId);
    });
    const later = (ms: number, action: () => void): void => {
      const timer = setTimeout(() => {
        timers.delete(timer);
        action();
      }, ms);
      timers.add(timer);
    };

    incoming.on('packet', (packet: Packet) => {
      counts.set(packet.cmd, (counts.get(packet.cmd) ?? 0) + 1);
      const entry: { -readonly [K in keyof LoggedPacket]: LoggedPacket[K] } = { cmd: packet.cmd, at: Date.now() };
      if ('messageId' in packet && packet.messageId !== undefined) entry.messageId = packet.messageId;
      if (packet.cmd === 'publish') Object.assign(entry, { dup: packet.dup, qos: packet.qos, payload: packet.payload.toString(), topic: packet.topic });
      if ((packet.cmd === 'publish' || packet.cmd === 'connect') && packet.properties) entry.properties = packet.properties;
      if (packet.cmd === 'connect') {
        entry.clean = packet.clean ?? true;
        const expiry = packet.properties?.sessionExpiryInterval;
        if (expiry !== undefined) entry.sessionExpiry = expiry;
      }
      log.push(entry);
      if (silenced) {
        if (packet.cmd === 'publish') publishesAfterDisconnect++;
        return;
      }
      switch (packet.cmd) {
        case 'connect': {
          connects++;
          version = packet.protocolVersion ?? 4;
          (incoming as unknown as VersionedParser).settings.protocolVersion = version;
          const answer = script.connack ?? 'accept';
          if (answer === 'never') return;
          if (answer === 'auth') {
            send({ cmd: 'auth', reasonCode: 0x18, properties: { authenticationMethod: 'SCRAM-SHA-1' } });
            return;
          }
          const code = answer === 'accept' ? 0 : answer.returnCode;
          const properties = script.connackProperties;
          const clean = packet.clean ?? true;
          if (clean) sessions.delete(packet.clientId);
          const sessionPresent = script.alwaysSessionPresent === true || (script.keepSessions === true && sessions.has(packet.clientId));
          if (script.keepSessions === true && code === 0) {
            clientId = packet.clientId;
            const expires = version === 5 ? (packet.properties?.sessionExpiryInterval ?? 0) === 0 : clean;
            const kept = sessions.get(clientId);
            if (kept) kept.expires = expires;
            else sessions.set(clientId, { expires, held: new Set() });
          }
          send(version === 5 ? { cmd: 'connack', sessionPresent, reasonCode: code, ...(properties ? { properties } : {}) } : { cmd: 'connack', sessionPresent, returnCode: code });
          // A refused client must not keep talking to us (MQTT 3.2.2.3 / 5 3.2.2.2).
          if (code !== 0) socket.end();
          else if (script.reading === 'stalled') socket.pause();
          else if (sessionPresent) for (const queued of script.queuedForSession ?? []) send(queued);
          return;
        }
        case 'publish': {
          publishes++;
          const { messageId, qos } = packet;
          const taken = { clientId, topic: packet.topic, payload: packet.payload.toString(), qos };
          if (messageId === undefined) {
            accepted.push(taken);
            return;
          }
          if (qos === 2) {
            const held = script.holdQos2Ids === true ? sessions.get(clientId)?.held : undefined;
            if (held?.has(messageId)) {
              if (!packet.dup) droppedDuplicates++;
            } else {
              held?.add(messageId);
              accepted.push(taken);
            }
            if ((script.pubrec ?? 'immediate') === 'immediate') send({ cmd: script.qos2Ack ?? 'pubrec', messageId });
            return;
          }
          accepted.push(taken);
          if (qos !== 1) return;
          if (script.qos1Ack === 'pubrec') {
            send({ cmd: 'pubrec', messageId });
            return;
          }
          maxInFlight = Math.max(maxInFlight, ++inFlight);
          const plan = script.puback ?? 'immediate';
          if (plan === 'never') return;
          if (plan === 'immediate') send({ cmd: 'puback', messageId });
          else if ('delayMs' in plan || 'serviceMs' in plan) {
            let waitMs: number;
            if ('serviceMs' in plan) {
              const now = performance.now();
              serviceFreeAt = Math.max(now, serviceFreeAt) + plan.serviceMs;
              waitMs = serviceFreeAt - now;
            } else waitMs = plan.delayMs;
            later(waitMs, () => {
              inFlight--;
              send({ cmd: 'puback', messageId });
            });
            return;
          }
          // Reason codes do not exist before MQTT 5; a v3 PUBACK can only mean success.
          else send(version === 5 ? { cmd: 'puback', messageId, reasonCode: plan.reasonCode } : { cmd: 'puback', messageId });
          inFlight--;
          return;
        }
        case 'pubrel':
          if (packet.messageId !== undefined) sessions.get(clientId)?.held.delete(packet.messageId);
          if ((script.pubcomp ?? 'immediate') === 'immediate' && packet.messageId !== undefined) {
            send({ cmd: 'pubcomp', messageId: packet.messageId });
          }
          return;
        case 'subscribe':
          if (packet.messageId !== undefined) {
            if (subacks++ === 0) for (const raw of script.beforeFirstSuback ?? []) socket.write(raw);
            send({ cmd: 'suback', messageId: packet.messageId, granted: script.granted ?? packet.subscriptions.map((sub) => sub.qos) });
            for (const next of script.afterSuback ?? []) send(next);
          }
          return;
        case 'unsubscribe':
          if (packet.messageId !== undefined) {
            send(version === 5 ? { cmd: 'unsuback', messageId: packet.messageId, granted: packet.unsubscriptions.map(() => 0) } : { cmd: 'unsuback', messageId: packet.messageId, granted: [] });
          }
          return;
        case 'pingreq':
          if ((script.pingresp ?? 'immediate') === 'immediate') send({ cmd: 'pingresp' });
          return;
        case 'disconnect': {
          const sessionExpiry = packet.properties?.sessionExpiryInterval;
          disconnects.push({ reasonCode: packet.reasonCode, sessionExpiry });
          const kept = sessions.get(clientId);
          if (kept && sessionExpiry !== undefined) kept.expires = sessionExpiry === 0;
          socket.end();
          return;
        }
        default:
          return;
      }
    });
    incoming.on('error', () => socket.destroy());
    socket.on('data', (chunk: Buffer) => incoming.parse(chunk));
    // Clients vanish abruptly in these tests; a reset is expected, not a failure.
    socket.on('error', () => socket.destroy());
    socket.on('close', () => sockets.delete(socket));
  });

  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => {
      server.off('error', reject);
      resolve();
    });
  });
  const { port } = server.address() as AddressInfo;

  const dropAll = (): void => {
    for (const socket of sockets) socket.destroy();
  };
  return {
    url: `mqtt://127.0.0.1:${port}`,
    get publishes() {
      return publishes;
    },
    get connects() {
      return connects;
    },
    get publishesAfterDisconnect() {
      return publishesAfterDisconnect;
    },
    get maxInFlight() {
      return maxInFlight;
    },
    received(cmd: string): number {
      return counts.get(cmd) ?? 0;
    },
    dropAll,
    disconnectAll(reasonCode: number): void {
      for (const disconnect of disconnectors) disconnect(reasonCode);
    },
    log,
    accepted,
    get droppedDuplicates() {
      return droppedDuplicates;
    },
    disconnects,
    sessionsKept: () => [...sessions.keys()],
    resumeReading(): void {
      for (const socket of sockets) socket.resume();
    },
    async close(): Promise<void> {
      for (const timer of timers) clearTimeout(timer);
      timers.clear();
      const closed = new Promise<void>((resolve) => server.close(() => resolve()));
      dropAll();
      await closed;
    },
  };
}
