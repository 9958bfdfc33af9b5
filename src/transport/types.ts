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
