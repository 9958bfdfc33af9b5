import { MqttConnection } from './mqtt-connection.ts';
import type { ConnectionOwner } from './mqtt-connection.ts';
import { SessionState } from './mqtt-session-state.ts';
import type { OpenedStream, SessionListener, SessionOptions } from './mqtt.ts';
import type { Outcome } from '../types.ts';

/**
 * MQTT 3.1.1 §3.2.2.2: "The Client can discard the Session state on both Client and Server by
 * disconnecting, connecting with Clean Session set to 1 and then disconnecting again" (MQTT 5 the
 * same, with Clean Start 1 and Session Expiry 0). This is the middle connection: clean, no will,
 * DISCONNECT as soon as the CONNACK accepts it. Nothing of it reaches the device: the attempt's
 * CONNECT is timed on the connection that follows.
 */
export class StaleSessionDiscard implements ConnectionOwner, SessionListener {
  readonly listener: SessionListener = this;
  private readonly connection: MqttConnection;
  private done: ((failure?: string) => void) | undefined;

  constructor(opened: OpenedStream, options: SessionOptions, started: bigint, done: (failure?: string) => void) {
    this.done = done;
    this.connection = new MqttConnection(this, opened, { ...options, clean: true, will: undefined, sessionExpiryS: 0 }, started, new SessionState(false), false);
  }

  connectEnded(outcome: Outcome, error: string | undefined): void {
    if (outcome !== 'ok') return this.finish(error ?? outcome);
    void this.connection.close(true, 2_000).then(() => this.finish());
  }

  connectionLost(): void {}

  message(): void {}

  connectionEnded(): void {}

  /** The session closed while discarding: the connection goes, and nobody is told. */
  cancel(): Promise<void> {
    this.done = undefined;
    return this.connection.close(false, 0);
  }

  private finish(failure?: string): void {
    const done = this.done;
    this.done = undefined;
    done?.(failure);
  }
}
