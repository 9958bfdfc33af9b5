import { setTimeout as delay } from 'node:timers/promises';

/**
 * Polls `condition` every few ms until it holds, and fails naming `what` at the deadline: for counts
 * that have no event to wait on (QoS 0 publishes, a broker's tally, a disconnect).
 */
export async function pollUntil(what: string, condition: () => boolean, deadlineMs = 5_000): Promise<void> {
  const deadline = Date.now() + deadlineMs;
  while (!condition()) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await delay(5);
  }
}

/**
 * Checks every few ms that `condition` keeps holding for `forMs`, and fails naming `what` the moment
 * it stops: for absences (no disconnect, no ack) that have no event to wait on.
 */
export async function holdsFor(what: string, condition: () => boolean, forMs: number): Promise<void> {
  const until = Date.now() + forMs;
  while (Date.now() < until) {
    if (!condition()) throw new Error(`${what} stopped holding after ${forMs - (until - Date.now())} ms`);
    await delay(5);
  }
}
