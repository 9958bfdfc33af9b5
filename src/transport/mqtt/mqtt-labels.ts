import { UnsendablePacketError } from './mqtt-codec.ts';
import { tlsErrorLabel } from '../http/tls-labels.ts';

/** How publishes still waiting on a connection that died are labelled: the same as a loss the session sees itself. */
export const CONNECTION_CLOSED = 'connection lost: connection closed';

/** `connection lost: <why>`: how a session's loss and what failed with it are labelled. */
export function lostLabel(reason: string): string {
  return `connection lost: ${reason}`;
}

/** Whether an attempt failed because its connection went away (not because the broker refused it). */
export function isConnectionLoss(error: string): boolean {
  return error.startsWith('connection lost');
}

/** An MQTT 5 AUTH packet asks for enhanced authentication, which fleetsim does not do. */
export const UNSUPPORTED_AUTH = 'unsupported AUTH packet: MQTT 5 enhanced authentication is not implemented';

/** A short, stable label for a socket or TLS failure, as stats group them (`ECONNREFUSED`). */
export function errorLabel(error: unknown): string {
  if (error && typeof error === 'object') {
    const { code, message } = error as { code?: unknown; message?: unknown };
    if (typeof code === 'string') return tlsErrorLabel(code, error, 'plain MQTT') ?? code;
    if (typeof message === 'string') return message;
  }
  return String(error);
}

/** A CONNACK's Session Present for a session this process never had (MQTT 5 3.2.2-4), where the client may not discard it. */
export const STALE_SESSION = 'protocol error: Session Present without session state';

/** How a QoS 2 publish the broker answered with PUBACK fails when the profile asks (`mqtt.qos2Downgrade: fail`). */
export const QOS2_DOWNGRADED = 'QoS 2 downgraded: the broker answered PUBACK (QoS 1)';

export const NO_PACKET_IDS = 'no free packet id: 65,535 packets in flight';

/** A packet fleetsim will not send: one MQTT cannot express, or one the broker's CONNACK ruled out. */
export function refusal(error: unknown): string {
  if (error instanceof UnsendablePacketError) return error.message;
  throw error;
}
