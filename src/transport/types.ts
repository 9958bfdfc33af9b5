export type Outcome = 'ok' | 'failure' | 'timeout';

/** How one attempt ended, as a transport reports it. */
export interface AttemptResult {
  outcome: Outcome;
  /** A short, stable label for failures (`HTTP 503`, `ECONNREFUSED`, `timeout`). */
  error: string | undefined;
  bytesIn: number;
  /**
   * The target answered (any HTTP status, an MQTT ack with any reason code). An attempt that got no
   * answer (refused, reset, timed out, malformed, connection lost) is a failure whose time is not the
   * target's latency: it is kept apart as `failedLatencyMs`.
   */
  answered: boolean;
  /** The response body, when the attempt asked to keep it (for captures). */
  body?: string;
}

/** The client side of one TLS connection. */
export interface TlsOptions {
  readonly ca?: Buffer;
  readonly cert?: Buffer;
  readonly key?: Buffer;
  readonly rejectUnauthorized: boolean;
  /** Why this device's TLS material is missing: its connect attempts fail with this. */
  readonly problem?: string;
}

/** A device's TLS material; `id` names the files, so devices presenting the same ones can share connections. */
export interface DeviceTls extends TlsOptions {
  readonly id: string;
}
