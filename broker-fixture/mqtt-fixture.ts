import { createServer } from 'node:net';
import { WebSocketServer, createWebSocketStream } from 'ws';
import type { AddressInfo, Server, Socket } from 'node:net';
import { Aedes } from 'aedes';
import type { Client, PublishPacket, Subscription } from 'aedes';

/** What the embedded broker saw, so a run's own counts can be checked against the broker's. */
export interface MqttCounts {
  connects: number;
  disconnects: number;
  /** PUBLISH packets received from clients (the broker's own, such as $SYS, excluded). */
  publishesReceived: number;
  publishesByQos: { 0: number; 1: number; 2: number };
  subscribes: number;
  otaCommandsSent: number;
  /** Publishes received per topic, with device ids folded to `+` (`devices/+/lamp/changed`). */
  topics: Record<string, number>;
}

export interface MqttFixtureOptions {
  /** A device subscribing to `devices/<id>/ota` gets one OTA command this long after; 0 sends none. */
  readonly otaAfterMs?: number;
}

const OTA_FILTER = /^devices\/[^/+#]+\/ota$/u;
const DEVICE_ID_LEVEL = /^(?:[0-9a-fA-F]{6,}|\d+)$/u;

/** `devices/1e0000000abc/lamp/changed` → `devices/+/lamp/changed`. */
export function foldTopic(topic: string): string {
  return topic
    .split('/')
    .map((level) => (DEVICE_ID_LEVEL.test(level) ? '+' : level))
    .join('/');
}

/**
 * The embedded MQTT broker (Aedes, MQTT 3.1.1) for self-tests and demos. It counts what clients
 * publish and, like a device backend would, sends each device that listens for OTA commands one.
 */
export class MqttFixture {
  readonly counts: MqttCounts = { connects: 0, disconnects: 0, publishesReceived: 0, publishesByQos: { 0: 0, 1: 0, 2: 0 }, subscribes: 0, otaCommandsSent: 0, topics: {} };
  private readonly otaAfterMs: number;
  private readonly timers = new Set<NodeJS.Timeout>();
  private readonly sockets = new Set<Socket>();
  private broker: Aedes | undefined;
  private server: Server | undefined;
  private webSocketServer: WebSocketServer | undefined;
  private jobs = 0;

  constructor(options: MqttFixtureOptions = {}) {
    this.otaAfterMs = options.otaAfterMs ?? 5000;
  }

  async listen(port = 0, host = '127.0.0.1'): Promise<string> {
    const broker = await Aedes.createBroker();
    this.broker = broker;
    broker.on('client', () => this.counts.connects++);
    broker.on('clientDisconnect', () => this.counts.disconnects++);
    // Counted where the broker authorizes a client's publish, before it acks: a client that has its
    // PUBACK is always already counted (the 'publish' event can come after the ack).
    broker.authorizePublish = (client: Client | null, packet: PublishPacket, callback: (error?: Error | null) => void): void => {
      // Aedes authorizes a dead client's last will here too (as that very packet object), but no
      // PUBLISH packet carried it, and counting it would break "broker count = acked publishes".
      if (client === null || packet === (client as Client & { will?: unknown }).will) {
        callback(null);
        return;
      }
      const counts = this.counts;
      counts.publishesReceived++;
      counts.publishesByQos[packet.qos]++;
      const folded = foldTopic(packet.topic);
      counts.topics[folded] = (counts.topics[folded] ?? 0) + 1;
      callback(null);
    };
    broker.on('subscribe', (subscriptions: Subscription[]) => {
      this.counts.subscribes++;
      for (const subscription of subscriptions) if (OTA_FILTER.test(subscription.topic) && this.otaAfterMs > 0) this.sendOtaLater(subscription.topic);
    });
    const server = createServer((socket) => {
      socket.setNoDelay(true);
      this.sockets.add(socket);
      socket.once('close', () => this.sockets.delete(socket));
      broker.handle(socket);
    });
    this.server = server;
    await new Promise<void>((resolve, reject) => {
      server.once('error', reject);
      server.listen(port, host, () => {
        server.off('error', reject);
        resolve();
      });
    });
    const address = server.address() as AddressInfo;
    const shownHost = address.family === 'IPv6' ? `[${address.address}]` : address.address;
    return `mqtt://${shownHost}:${address.port}`;
  }

  /**
   * Also serves MQTT over WebSocket (subprotocol `mqtt`) at `path`, for the same broker: Aedes takes
   * any duplex stream. Call after `listen`. Returns the ws:// URL.
   */
  async listenWebSocket(port = 0, host = '127.0.0.1', path = '/mqtt'): Promise<string> {
    const broker = this.broker;
    if (!broker) throw new Error('listen() first: the WebSocket listener serves the same broker');
    const server = new WebSocketServer({ host, port, path, perMessageDeflate: false, handleProtocols: (protocols) => (protocols.has('mqtt') ? 'mqtt' : false) });
    this.webSocketServer = server;
    server.on('connection', (socket) => broker.handle(createWebSocketStream(socket)));
    await new Promise<void>((resolve, reject) => {
      server.once('error', reject);
      server.once('listening', () => {
        server.off('error', reject);
        resolve();
      });
    });
    const address = server.address() as AddressInfo;
    const shownHost = address.family === 'IPv6' ? `[${address.address}]` : address.address;
    return `ws://${shownHost}:${address.port}${path}`;
  }

  private sendOtaLater(topic: string): void {
    const timer = setTimeout(() => {
      this.timers.delete(timer);
      const payload = JSON.stringify({ command: 'update', version: '2.0.1', job: `job-${++this.jobs}` });
      this.broker?.publish({ cmd: 'publish', topic, payload: Buffer.from(payload), qos: 1, retain: false, dup: false }, () => undefined);
      this.counts.otaCommandsSent++;
    }, this.otaAfterMs);
    timer.unref();
    this.timers.add(timer);
  }

  /** Stops listening and drops every client; never waits on a client to leave by itself. */
  async close(): Promise<void> {
    for (const timer of this.timers) clearTimeout(timer);
    this.timers.clear();
    for (const socket of this.sockets) socket.destroy();
    const webSocketServer = this.webSocketServer;
    if (webSocketServer) {
      for (const client of webSocketServer.clients) client.terminate();
      await new Promise<void>((resolve) => webSocketServer.close(() => resolve()));
      this.webSocketServer = undefined;
    }
    const server = this.server;
    if (server) await new Promise<void>((resolve) => server.close(() => resolve()));
    const broker = this.broker;
    if (broker) await new Promise<void>((resolve) => broker.close(() => resolve()));
    this.server = undefined;
    this.broker = undefined;
  }
}
