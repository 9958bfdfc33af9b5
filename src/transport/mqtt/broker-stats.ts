import { MqttSession } from './mqtt.ts';
import type { SessionListener, SessionOptions } from './mqtt.ts';
import type { Outcome } from '../types.ts';
import type { BrokerStats } from '../../metrics/results.ts';

const COUNTERS = {
  publishReceived: '$SYS/broker/publish/messages/received',
  publishSent: '$SYS/broker/publish/messages/sent',
  publishDropped: '$SYS/broker/publish/messages/dropped',
  messagesReceived: '$SYS/broker/messages/received',
  messagesSent: '$SYS/broker/messages/sent',
} as const;
const CLIENTS = '$SYS/broker/clients/connected';
const UPTIME = '$SYS/broker/uptime';
const LOAD = /^\$SYS\/broker\/load\/(.+)\/1min$/;

/**
 * Mosquitto counts messages sent (`messages/sent`, `publish/messages/sent`) where it writes to a
 * plain socket; what it sends over a WebSocket listener goes out another way and is not counted.
 */
export const WEBSOCKET_SENT_NOTE =
  "Mosquitto's sent counters (publishSent, messagesSent) leave out what it sends over a WebSocket listener: over ws:// they undercount deliveries, and cannot be compared with DELIVER rows.";

/**
 * Watches a broker's `$SYS` topics on a session of its own during a run. Counters are cumulative in
 * `$SYS`, so the run's figure is the last value less the retained one seen before the run started.
 * The broker republishes them once per `$SYS` interval (Mosquitto: `sys_interval`, default 10 s), so
 * at the end the probe waits for one tick that began after the run ended.
 */
export class BrokerStatsProbe implements SessionListener {
  private readonly session = new MqttSession(this);
  private readonly first = new Map<string, number>();
  private readonly last = new Map<string, number>();
  private peakClients: number | null = null;
  private connected: ((error: string | undefined) => void) | undefined;
  /** Set when the run ended: the next uptime starts a fresh tick, and its `publish/messages/sent` ends it. */
  private phase: 'running' | 'awaiting-tick' | 'in-tick' | 'fresh' = 'running';
  private sawFreshTick = false;
  private onFresh: (() => void) | undefined;
  /** The probe (and the run's devices) talk to the broker over a WebSocket. */
  private webSocket = false;

  /** Connects and subscribes to `$SYS/#`; resolves once the retained values had a moment to arrive, or rejects with a label. */
  async start(options: SessionOptions, settleMs = 500): Promise<void> {
    this.webSocket = options.webSocketUrl !== undefined;
    const failure = await new Promise<string | undefined>((resolve) => {
      this.connected = resolve;
      this.session.connect(options);
    });
    if (failure !== undefined) throw new Error(`--broker-stats: could not connect to the broker: ${failure}`);
    const refused = await new Promise<string | undefined>((resolve) => this.session.subscribe('$SYS/#', 0, resolve));
    if (refused !== undefined) throw new Error(`--broker-stats: the broker refused the $SYS/# subscription: ${refused}`);
    // Retained $SYS values follow the SUBACK at once; they are the run's baseline.
    await new Promise<void>((resolve) => {
      const timer = setTimeout(resolve, settleMs);
      this.onFresh = () => {
        clearTimeout(timer);
        resolve();
      };
      if (this.first.has(COUNTERS.publishReceived)) this.onFresh();
    });
    this.onFresh = undefined;
  }

  /** Waits (at most `deadlineMs`) for a `$SYS` tick that began after this call, then closes and returns the figures. */
  async finish(deadlineMs = 15_000): Promise<BrokerStats> {
    this.phase = 'awaiting-tick';
    // A broker without Mosquitto's $SYS names (Aedes, most managed brokers) has no tick to wait for.
    if (this.last.has(UPTIME) && this.session.connected)
      await new Promise<void>((resolve) => {
        const timer = setTimeout(resolve, deadlineMs);
        this.onFresh = () => {
          clearTimeout(timer);
          resolve();
        };
      });
    await this.session.close(true);
    const delta = (topic: string): number | null => {
      const first = this.first.get(topic);
      const last = this.last.get(topic);
      return first === undefined || last === undefined ? null : last - first;
    };
    const load1min: Record<string, number> = {};
    for (const [topic, value] of this.last) {
      const name = LOAD.exec(topic)?.[1];
      if (name !== undefined) load1min[name] = value;
    }
    return {
      source: '$SYS',
      publishReceived: delta(COUNTERS.publishReceived),
      publishSent: delta(COUNTERS.publishSent),
      publishDropped: delta(COUNTERS.publishDropped),
      messagesReceived: delta(COUNTERS.messagesReceived),
      messagesSent: delta(COUNTERS.messagesSent),
      clientsConnected: { peak: this.peakClients, last: this.last.get(CLIENTS) ?? null },
      load1min,
      ...(Object.keys(load1min).length > 0 ? { loadUnit: 'per minute' as const } : {}),
      fresh: this.sawFreshTick,
      ...(this.webSocket && this.last.has(COUNTERS.publishSent) ? { notes: [WEBSOCKET_SENT_NOTE] } : {}),
    };
  }

  connectEnded(outcome: Outcome, error: string | undefined): void {
    this.connected?.(outcome === 'ok' ? undefined : (error ?? outcome));
    this.connected = undefined;
  }

  connectionLost(): void {}

  message(topic: string, payload: Buffer): void {
    const value = Number(payload.toString('utf8').split(' ')[0]);
    if (!Number.isFinite(value)) return;
    if (!this.first.has(topic)) this.first.set(topic, value);
    this.last.set(topic, value);
    if (topic === CLIENTS) this.peakClients = Math.max(this.peakClients ?? 0, value);
    if (this.phase === 'running') {
      if (topic === COUNTERS.publishReceived) this.onFresh?.();
      return;
    }
    // Mosquitto publishes a tick's uptime first and its publish/messages/sent after the received
    // count; sent always changes, since this probe's own $SYS deliveries count as sent.
    if (topic === UPTIME && this.phase === 'awaiting-tick') this.phase = 'in-tick';
    else if (topic === COUNTERS.publishSent && this.phase === 'in-tick') {
      this.phase = 'fresh';
      this.sawFreshTick = true;
      this.onFresh?.();
    }
  }
}
