export type Outcome = 'ok' | 'failure' | 'timeout';

/** How one attempt ended, as a transport reports it. */
export interface AttemptResult {
  outcome: Outcome;
  /** A short, stable label for failures (`HTTP 503`, `ECONNREFUSED`, `timeout`). */
  error: string | undefined;
  bytesIn: number;
  /** The response body, when the attempt asked to keep it (for captures). */
  body?: string;
}
