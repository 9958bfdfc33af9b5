import { FleetsimError } from '../errors.ts';
import type { Download } from './downloads.ts';

/** What the page is pushed: an SSE event name and its JSON data. */
export interface UiMessages {
  message: [event: string, data: unknown];
}

/** A request that cannot be served in the run's present state (a start while one runs): HTTP 409. */
export class ConflictError extends FleetsimError {
  constructor(message: string) {
    super('FLEETSIM_UI_CONFLICT', message);
    this.name = 'ConflictError';
  }
}

/**
 * What the UI server serves: the state, the controls and the downloads of whatever drives the run
 * (the UI's own runs, or a capacity search). Controls a backend does not offer throw ConflictError.
 */
export interface UiBackend {
  state(): object;
  start(body: unknown): Promise<object>;
  stop(): object;
  setDevices(body: unknown): object;
  /** Locust's "reset stats": the run's statistics start again from now, the run goes on. */
  resetStats(): object;
  download(name: string): Promise<Download | undefined>;
  on(event: 'message', listener: (event: string, data: unknown) => void): unknown;
  off(event: 'message', listener: (event: string, data: unknown) => void): unknown;
  /** Set by the server: whether any page listens, so per-interval tables are built only then. */
  listening: () => boolean;
}
