export type Outcome = 'ok' | 'failure' | 'timeout';

/** How one attempt ended, as a transport reports it. */
export interface AttemptResult {
  outcome: Outcome;
  /** A short, stable label for failures (`HTTP 503`, `ECONNREFUSED`, `timeout`). */
  error: string | undefined;
  bytesIn: number;
}
