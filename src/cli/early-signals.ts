/**
 * Signals that arrive before a command has set up its own handling (while the CLI's modules load,
 * while a profile is read) are held here rather than ending the process unreported. The entry
 * point holds them on its first line; `run` takes them over, and every other command gives them
 * back to Node's default. This module imports nothing, so holding starts before the rest loads.
 */

const HELD = ['SIGINT', 'SIGTERM', 'SIGHUP'] as const;
export type HeldSignal = (typeof HELD)[number];

const pending: HeldSignal[] = [];
let holding: NodeJS.Process | undefined;
const listeners = new Map<HeldSignal, () => void>();

/** Starts holding SIGINT, SIGTERM and SIGHUP. A third stopping signal still quits at once. */
export function holdSignals(target: NodeJS.Process = process): void {
  if (holding) return;
  holding = target;
  for (const signal of HELD) {
    const listener = (): void => {
      pending.push(signal);
      const stopping = pending.filter((held) => held !== 'SIGHUP');
      if (stopping.length >= 3) target.exit(stopping[0] === 'SIGTERM' ? 143 : 130);
    };
    listeners.set(signal, listener);
    target.on(signal, listener);
  }
}

function unhold(): HeldSignal[] {
  if (holding) for (const [signal, listener] of listeners) holding.off(signal, listener);
  listeners.clear();
  holding = undefined;
  return pending.splice(0);
}

/** Stops holding and returns what arrived meanwhile, in order, for a command that handles signals itself. */
export function takeHeldSignals(): HeldSignal[] {
  return unhold();
}

/** Stops holding; a stopping signal that arrived meanwhile gets Node's default (the process ends as it would have). */
export function releaseHeldSignals(target: NodeJS.Process = process): void {
  const was = holding ?? target;
  const first = unhold().find((signal) => signal !== 'SIGHUP');
  if (first) was.kill(was.pid, first);
}
