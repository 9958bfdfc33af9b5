import { createConnection, isIP } from 'node:net';
import type { Socket } from 'node:net';
import type { Duplex } from 'node:stream';
import type { ConnectionOptions } from 'node:tls';
import { connect as tlsConnect } from 'node:tls';
import { elapsedMicros } from '../../util/clock.ts';
import { MqttConnection } from './mqtt-connection.ts';
import type { ConnectionOwner } from './mqtt-connection.ts';
import type { ConnectFields } from './mqtt-codec.ts';
import { errorLabel, lostLabel } from './mqtt-labels.ts';
import { openWebSocket } from './mqtt-websocket.ts';
import { shape } from '../link/shaped-stream.ts';
import type { LinkConditions } from '../link/link-conditions.ts';
import { SessionState } from './mqtt-session-state.ts';
import { StaleSessionDiscard } from './mqtt-stale-session.ts';
import type { PublishExtras } from './mqtt-publish-extras.ts';
import type { Outcome } from '../types.ts';

/** What one connection attempt of a device's session needs; resolved per device by the engine. */
export interface SessionOptions extends ConnectFields {
  readonly host: string;
  readonly port: number;
  /** ws:// or wss:// URL (its path the broker's endpoint): MQTT over a WebSocket, subprotocol `mqtt`. */
  readonly webSocketUrl?: string | undefined;
  readonly tls: TlsOptions | undefined;
  readonly connectTimeoutMs: number;
  /** The source address to connect from (`--local-ips`); the system's choice when undefined. */
  readonly localAddress?: string | undefined;
  /** Time taken over each QoS 1/2 message received before its ack goes out, one at a time (a slow consumer). */
  readonly processingMs?: number | undefined;
  /**
   * A persistent MQTT 5 session's last DISCONNECT sets Session Expiry 0, so the broker keeps nothing
   * after the run, unless this is set. (An MQTT 3.1.1 DISCONNECT cannot end a session.)
   */
  readonly keepSessionAtEnd?: boolean | undefined;
  /**
   * A PUBACK for a QoS 2 publish (a broker that downgrades QoS 2 to 1, as RabbitMQ does): 'accept'
   * counts it as acked at QoS 1, 'fail' as a failure; the connection stays up either way.
   */
  readonly qos2Downgrade?: 'accept' | 'fail' | undefined;
  /** The device's simulated network link, under TLS when there is TLS (not for MQTT over WebSocket); undefined: none. */
  readonly link?: LinkConditions | undefined;
}

export type { TlsOptions } from '../types.ts';
import type { TlsOptions } from '../types.ts';
import { secureContextOf } from '../tls-context.ts';

/** How a session reports to its owner; called synchronously from socket events. */
export interface SessionListener {
  /** A connection attempt ended. `latencyMicros` runs from CONNECT on the wire to CONNACK, or to the failure. */
  /** `answered`: a CONNACK came back (a refusal is the broker's answer); false when none did. */
  connectEnded(outcome: Outcome, error: string | undefined, latencyMicros: number, answered: boolean): void;
  /** An established connection ended without being asked to. */
  connectionLost(reason: string): void;
  /**
   * A PUBLISH from the broker. `properties` (MQTT 5, when it had any) is its property list, length
   * first, a view into the socket's chunk: read it before returning, never keep it.
   */
  message(topic: string, payload: Buffer, properties?: Buffer): void;
}

/**
 * Called once per PUBLISH or SUBSCRIBE: with nothing when it succeeded, else with the failure's
 * label. `answered` is true when the broker itself sent the reason (not a local refusal, a lost
 * connection or a protocol error). A SUBSCRIBE the broker accepted at a lower QoS than asked also
 * gets the QoS it granted.
 */
export type AckCallback = (error?: string, answered?: boolean, grantedQos?: number) => void;

function tlsOptions(tls: TlsOptions): ConnectionOptions {
  return { rejectUnauthorized: tls.rejectUnauthorized, secureContext: secureContextOf(tls) };
}

/** The byte stream a connection speaks MQTT over, and the event that says it is open. */
export interface OpenedStream {
  readonly stream: Duplex;
  readonly ready: 'connect' | 'secureConnect';
}

function openSocket(options: SessionOptions): OpenedStream {
  const source = options.localAddress === undefined ? {} : { localAddress: options.localAddress };
  if (options.webSocketUrl !== undefined) return { stream: openWebSocket(options.webSocketUrl, { ...(options.tls && tlsOptions(options.tls)), ...source }), ready: 'connect' };
  // Without noDelay, a burst's publishes wait on Nagle and every latency measures that instead.
  if (!options.tls) return { stream: shape(createConnection({ host: options.host, port: options.port, noDelay: true, ...source }), options.link, 'connect'), ready: 'connect' };
  const servername = isIP(options.host) ? '' : options.host;
  if (options.link) {
    // The link sits under TLS, so the handshake's round trips cross it as they would.
    const raw = shape(createConnection({ host: options.host, port: options.port, noDelay: true, ...source }), options.link, 'connect');
    return { stream: tlsConnect({ socket: raw, servername, ...tlsOptions(options.tls) }), ready: 'secureConnect' };
  }
  const socket: Socket = tlsConnect({ host: options.host, port: options.port, servername, ...tlsOptions(options.tls), ...source });
  socket.setNoDelay(true);
  return { stream: socket, ready: 'secureConnect' };
}

/**
 * One device's MQTT session. Every connection attempt gets a fresh connection: the engine owns
 * reconnection (seeded backoff), and a fresh connection never resends publishes the engine has
 * already counted as failed.
 */
export class MqttSession implements ConnectionOwner {
  private connection: MqttConnection | undefined;
  private closing = false;
  /** Kept across connections when the session is persistent (`clean: false`). */
  private state: SessionState | undefined;
  /** The options of the attempt under way, for the connections a stale session's discard needs. */
  private options: SessionOptions | undefined;
  /** A stale session being discarded, between the attempt's first and last connection. */
  private discarding: StaleSessionDiscard | undefined;

  constructor(readonly listener: SessionListener) {}

  get connected(): boolean {
    return this.connection?.connected ?? false;
  }

  connect(options: SessionOptions): void {
    this.closing = false;
    this.options = options;
    if (options.clean || !this.state) this.state = new SessionState(!options.clean);
    this.open(options, process.hrtime.bigint(), true);
  }

  /**
   * One connection of an attempt. A persistent session's first connection in this process connects
   * with CleanSession 0 / Clean Start 0, as every later one does (Mosquitto 2.0 does not save to disk
   * a v5 session begun with Clean Start 1). When the broker answers Session Present, the session is
   * one this process never had, left by an earlier run: it is closed and discarded (MQTT 3.1.1
   * §3.2.2.2; MQTT 5 3.2.2-4, DISCONNECT 0x82), and the attempt connects again on a new session.
   */
  private open(options: SessionOptions, started: bigint, mayDiscard: boolean): void {
    const problem = options.tls?.problem;
    if (problem !== undefined) return this.failSoon(problem, started);
    let socket: OpenedStream;
    try {
      socket = openSocket(options);
    } catch (error) {
      // TLS material that reads but does not parse (a key that does not match its certificate)
      // throws while the socket is made: that device's attempt fails, not the run.
      return this.failSoon(errorLabel(error), started);
    }
    const state = this.state as SessionState;
    this.connection = new MqttConnection(this, socket, options, started, state, mayDiscard && state.persistent && !state.established);
  }

  /** Clean Start 1 and Session Expiry 0, then DISCONNECT: the broker forgets the stale session; then the attempt connects again as asked. */
  private discardStaleSession(): void {
    const options = this.options as SessionOptions;
    const started = process.hrtime.bigint();
    let socket: OpenedStream;
    try {
      socket = openSocket(options);
    } catch (error) {
      return this.failSoon(errorLabel(error), started);
    }
    this.discarding = new StaleSessionDiscard(socket, options, started, (failure) => {
      this.discarding = undefined;
      if (failure !== undefined) return this.listener.connectEnded('failure', `discarding a stale session: ${failure}`, elapsedMicros(started), false);
      this.open(options, process.hrtime.bigint(), false);
    });
  }

  /** An attempt that never got a socket still ends after `connect` returns, as every other does. */
  private failSoon(reason: string, started: bigint): void {
    process.nextTick(() => this.listener.connectEnded('failure', reason, elapsedMicros(started), false));
  }

  connectionEnded(connection: MqttConnection, wasConnected: boolean, reason: string | undefined): void {
    if (this.connection !== connection) return;
    this.connection = undefined;
    if (connection.foundStaleSession && !this.closing) return this.discardStaleSession();
    if (wasConnected && !this.closing) this.listener.connectionLost(reason ? lostLabel(reason) : 'connection lost');
  }

  /**
   * QoS 1 calls back at PUBACK, QoS 2 at PUBCOMP, QoS 0 once handed to the socket. `timeoutMs` is
   * how long the caller waits for it: a publish a v5 broker's Receive Maximum held back that long is
   * dropped unsent.
   */
  publish(topic: string, payload: string | Buffer, qos: 0 | 1 | 2, retain: boolean, timeoutMs: number, callback: AckCallback, extras?: PublishExtras): void {
    const connection = this.connection;
    if (!connection?.connected) return callback('not connected');
    connection.publish(topic, payload, qos, retain, timeoutMs, callback, extras);
  }

  subscribe(filter: string, qos: 0 | 1 | 2, callback: AckCallback): void {
    const connection = this.connection;
    if (!connection?.connected) return callback('not connected');
    connection.subscribe(filter, qos, callback);
  }

  /**
   * Ends the session: a DISCONNECT when connected and `graceful`, else the socket is dropped.
   * What still waits for an ack has already ended for the engine (timed out or failed), so nothing
   * waits for it and it is not called back.
   */
  /**
   * The device's network went away (a reboot, an offline window): the socket is dropped as a lost
   * connection is, without a DISCONNECT, and the listener hears of it as of any other loss.
   */
  drop(reason: string): void {
    const connection = this.connection;
    if (connection?.connected) connection.failed(reason);
    else void this.close(false);
  }

  /** `keepSession`: a plain DISCONNECT, so a persistent MQTT 5 session outlives it (a device going to sleep). */
  async close(graceful: boolean, timeoutMs = 2000, keepSession = false): Promise<void> {
    this.closing = true;
    const discarding = this.discarding;
    if (discarding) {
      this.discarding = undefined;
      // The attempt under way ends, as an attempt on a connection closed before its CONNACK does.
      this.listener.connectEnded('failure', 'closed before CONNACK', 0, false);
      return discarding.cancel();
    }
    const connection = this.connection;
    if (!connection) return;
    await connection.close(graceful, timeoutMs, keepSession);
    if (this.connection === connection) this.connection = undefined;
  }
}
