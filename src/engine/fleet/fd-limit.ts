import { readFileSync } from 'node:fs';
import { FleetsimError } from '../../errors.ts';

/** File descriptors a process needs besides its connections: stdio, files, the event loop, fixtures. */
export const FD_HEADROOM = 64;

/** The soft limit on open files, from /proc on Linux; undefined where it cannot be read. */
export function openFileLimit(procLimits = '/proc/self/limits'): number | undefined {
  try {
    const line = readFileSync(procLimits, 'utf8')
      .split('\n')
      .find((row) => row.startsWith('Max open files'));
    const soft = line?.split(/\s{2,}/)[1];
    if (soft === undefined || soft === 'unlimited') return undefined;
    const value = Number(soft);
    return Number.isFinite(value) ? value : undefined;
  } catch {
    return undefined;
  }
}

/**
 * Fails before anything connects when the run would need more sockets than the process may open,
 * rather than letting devices die one by one with EMFILE halfway through a run.
 */
export function checkFileLimit(connections: number, what: string, limit: number | undefined): void {
  if (limit === undefined) return;
  const needed = connections + FD_HEADROOM;
  if (needed <= limit) return;
  throw new FleetsimError(
    'FLEETSIM_FD_LIMIT',
    `this run needs about ${needed} open files (${what}) but the process limit is ${limit} (ulimit -n): ` +
      `raise it (e.g. 'ulimit -n ${Math.max(needed * 2, 65_536)}' in the shell that starts fleetsim), use fewer devices, or split the fleet across processes`,
  );
}
