import { createConnection, isIP } from 'node:net';
import type { ConnectionOptions } from 'node:tls';
import { connect as tlsConnect } from 'node:tls';
import { MqttClient } from 'mqtt';
import type { IClientOptions, IConnackPacket, IDisconnectPacket, IPublishPacket, IStream, ISubscriptionGrant } from 'mqtt';
import { elapsedMicros } from '../engine/clock.ts';
import type { Outcome } from './types.ts';

/** What one connection attempt of a device's session needs; resolved per device by the engine. */
export interface SessionOptions {
  readonly host: string;
  readonly port: number;
  readonly tls: TlsOptions | undefined;
  readonly clientId: string;
  readonly protocolVersion: 4 | 5;
  readonly clean: boolean;
  readonly keepaliveS: number;
  readonly username: string | undefined;
  readonly password: string | undefined;
  readonly will: { readonly topic: string; readonly payload: string; readonly qos: 0 | 1 | 2; readonly retain: boolean } | undefined;
  readonly connectTimeoutMs: number;
}

export interface TlsOptions {
  readonly ca?: Buffer;
  readonly cert?: Buffer;
  readonly key?: Buffer;
  readonly rejectUnauthorized: boolean;
  /** Why this device's TLS material is missing: its connect attempts fail with this. */
  readonly problem?: string;
}

/** How a session reports to its owner; called synchronously from socket events. */
export interface SessionListener {
  /** A connection attempt ended. `latencyMicros` runs from CONNECT on the wire to CONNACK, or to the failure. */
  connectEnded(outcome: Outcome, error: string | undefined, latencyMicros: number): void;
  /** An established connection ended without being asked to. */
  connectionLost(reason: string): void;
  message(topic: string, payload: Buffer): void;
}

export type AckCallback = (error?: Error) => void;

function tlsOptions(tls: TlsOptions): ConnectionOptions {
  const options: ConnectionOptions = { rejectUnauthorized: tls.rejectUnauthorized };
  if (tls.ca) options.ca = tls.ca;
  if (tls.cert) options.cert = tls.cert;
  if (tls.key) options.key = tls.key;
  return options;
}

const noLog = (): void => undefined;

/** How mqtt.js's flush of a closing connection's acks is labelled: the same as a loss the session sees itself. */
export const CONNECTION_CLOSED = 'connection lost: connection closed';

/** A short, stable label for a failure, as stats group them (`reason 135 Not authorized` for MQTT 5 reason codes). */
export function errorLabel(error: unknown): string {
  if (error instanceof Error && error.message === 'Connection closed') return CONNECTION_CLOSED;
  if (error && typeof error === 'object') {
    const { code, message } = error as { code?: unknown; message?: unknown };
    if (typeof code === 'string') return code;
    if (typeof code === 'number') return `reason ${code}${typeof message === 'string' && message ? ` ${message.replace(/^\w+ error: /u, '')}` : ''}`;
    if (typeof message === 'string') return message;
  }
  return String(error);
}

/**
 * One device's MQTT session over mqtt.js. Every connection attempt gets a fresh client with its
 * reconnects off: the engine owns reconnection (seeded backoff), and a fresh client never resends
 * publishes the engine has already counted as failed.
 */
export class MqttSession {
  connected = false;
  private client: MqttClient | undefined;
  private connecting = false;
  private closing = false;
  private connectTimer: NodeJS.Timeout | undefined;

  constructor(private readonly listener: SessionListener) {}

  connect(options: SessionOptions): void {
    this.closing = false;
    this.connecting = true;
    const started = process.hrtime.bigint();
    const problem = options.tls?.problem;
    if (problem !== undefined) {
      process.nextTick(() => {
        this.connecting = false;
        this.listener.connectEnded('failure', problem, elapsedMicros(started));
      });
      return;
    }
    let onWire = started;
    let lastError: string | undefined;
    const build = (): IStream => {
      // Without noDelay, a burst's publishes wait on Nagle and every latency measures that instead.
      const socket = options.tls
        ? tlsConnect({ host: options.host, port: options.port, servername: isIP(options.host) ? '' : options.host, ...tlsOptions(options.tls) })
        : createConnection({ host: options.host, port: options.port, noDelay: true });
      socket.setNoDelay(true);
      socket.once(options.tls ? 'secureConnect' : 'connect', () => {
        onWire = process.hrtime.bigint();
      });
      return socket;
    };
    const clientOptions: IClientOptions = {
      clientId: options.clientId,
      protocolVersion: options.protocolVersion,
      clean: options.clean,
      keepalive: options.keepaliveS,
      reconnectPeriod: 0,
      // Our own timer bounds the attempt, so mqtt.js's never fires first.
      connectTimeout: options.connectTimeoutMs + 60_000,
      resubscribe: false,
      queueQoSZero: false,
      // mqtt.js logs every packet through `debug`; even disabled, that was ~5% of a flat-out profile.
      log: noLog,
    };
    if (options.username !== undefined) clientOptions.username = options.username;
    if (options.password !== undefined) clientOptions.password = options.password;
    if (options.will) clientOptions.will = { ...options.will, payload: Buffer.from(options.will.payload) };
    let client: MqttClient;
    try {
      client = new MqttClient(build, clientOptions);
    } catch (error) {
      // TLS material that reads but does not parse (a key that does not match its certificate)
      // throws while the client builds its socket: that device's attempt fails, not the run.
      const reason = errorLabel(error);
      process.nextTick(() => {
        this.connecting = false;
        this.listener.connectEnded('failure', reason, elapsedMicros(started));
      });
      return;
    }
    this.client = client;
    const current = (): boolean => this.client === client;
    const endAttempt = (outcome: Outcome, error: string | undefined, from: bigint): void => {
      if (!this.connecting) return;
      this.connecting = false;
      clearTimeout(this.connectTimer);
      // Dropped, not just cleared: a held Timeout keeps its closure and this attempt's client alive per device.
      this.connectTimer = undefined;
      this.listener.connectEnded(outcome, error, elapsedMicros(from));
    };
    this.connectTimer = setTimeout(() => {
      if (!current()) return;
      endAttempt('timeout', 'timeout', started);
      client.end(true);
    }, options.connectTimeoutMs);
    client.on('connect', (_connack: IConnackPacket) => {
      // A CONNACK racing our timeout: the attempt already ended and its client is being dropped.
      if (!current() || !this.connecting) return;
      this.connected = true;
      endAttempt('ok', undefined, onWire);
    });
    client.on('error', (error: Error) => {
      if (!current()) return;
      lastError = errorLabel(error);
      // A refused CONNACK or a socket error while connecting ends the attempt; mqtt.js closes after it.
      if (this.connecting) {
        endAttempt('failure', lastError, onWire === started ? started : onWire);
        client.end(true);
      }
    });
    client.on('disconnect', (packet: IDisconnectPacket) => {
      if (current()) lastError = `DISCONNECT reason ${packet.reasonCode ?? 0}`;
    });
    client.on('close', () => {
      if (!current()) return;
      endAttempt('failure', lastError ?? 'connection closed before CONNACK', started);
      const wasConnected = this.connected;
      this.connected = false;
      this.client = undefined;
      if (wasConnected && !this.closing) this.listener.connectionLost(lastError ? `connection lost: ${lastError}` : 'connection lost');
    });
    client.on('message', (topic: string, payload: Buffer, _packet: IPublishPacket) => {
      if (current()) this.listener.message(topic, payload);
    });
  }

  /** QoS 1 calls back at PUBACK, QoS 2 at PUBCOMP, QoS 0 once written; an error carries the reason. */
  publish(topic: string, payload: string, qos: 0 | 1 | 2, retain: boolean, callback: AckCallback): void {
    const client = this.client;
    if (!client || !this.connected) return callback(new Error('not connected'));
    client.publish(topic, payload, { qos, retain }, callback);
  }

  subscribe(filter: string, qos: 0 | 1 | 2, callback: AckCallback): void {
    const client = this.client;
    if (!client || !this.connected) return callback(new Error('not connected'));
    client.subscribe(filter, { qos }, (error: Error | null, granted?: ISubscriptionGrant[]) => {
      if (error) return callback(error);
      const refused = granted?.find((grant) => grant.qos >= 0x80);
      callback(refused ? Object.assign(new Error('SUBACK refused'), { code: `SUBACK ${refused.qos}` }) : undefined);
    });
  }

  /** Ends the session: a DISCONNECT when connected and `graceful`, else the socket is dropped. */
  async close(graceful: boolean, timeoutMs = 2000): Promise<void> {
    const client = this.client;
    this.closing = true;
    clearTimeout(this.connectTimer);
    if (!client) return;
    // Cleared before the listener hears of it, so a listener that closes in turn finds nothing to end.
    const wasConnecting = this.connecting;
    this.connecting = false;
    clearTimeout(this.connectTimer);
    if (wasConnecting) this.listener.connectEnded('failure', 'closed before CONNACK', 0);
    // Every attempt still in mqtt.js's outgoing table has already ended for us (timed out or failed);
    // a graceful end would otherwise wait for acks that may never come before sending DISCONNECT.
    for (const id of Object.keys(client.outgoing)) delete client.outgoing[Number(id)];
    await new Promise<void>((resolve) => {
      const timer = setTimeout(() => {
        client.end(true);
        resolve();
      }, timeoutMs);
      client.end(!(graceful && this.connected), () => {
        clearTimeout(timer);
        resolve();
      });
    });
    this.connected = false;
    if (this.client === client) this.client = undefined;
  }
}

