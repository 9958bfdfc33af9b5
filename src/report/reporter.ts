import type { Engine } from '../engine/engine.ts';
import type { Results } from '../metrics/results.ts';

/**
 * One report (JSON, CSV, HTML, Prometheus, the console): it may follow the run live through the
 * engine's events and metrics, and it gets the finished results once. A reporter never reaches
 * into a transport. A failure to write is thrown from `finish` as an Error whose message says what
 * went wrong; the run still writes every other report.
 */
export interface Reporter {
  /** The flag that asked for it, named in error messages (`--csv`). */
  readonly flag: string;
  /** Before the run: checks the output can be written (a usage error otherwise), or opens what it serves. */
  prepare?(): Promise<void>;
  /** Follows the run live. */
  attach?(engine: Engine): void;
  /** Writes the final report. */
  finish?(results: Results): Promise<void>;
  /** Releases what it holds (a listening port), after the final report. */
  close?(): Promise<void>;
}
