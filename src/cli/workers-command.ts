import { randomBytes } from 'node:crypto';
import type { Output } from '../run/run-environment.ts';
import { runCoordinated } from './coordinated-run.ts';
import type { RunCommandFlags } from './run-command.ts';

/**
 * `fleetsim run --workers N`: the local case of `coordinate`. A coordinator in this process, on
 * loopback with a port of the system's choosing and a token drawn here and told to no one but the
 * N worker processes it starts (through their environment), so nothing else on the machine can
 * join or fetch the results. One common start, one live line, one merged result.
 */
export function runWorkersCommand(given: RunCommandFlags, workers: number, output: Output, signals: NodeJS.EventEmitter): Promise<number> {
  return runCoordinated(
    given,
    { mode: '--workers', count: workers, host: '127.0.0.1', port: 0, token: randomBytes(32).toString('hex'), local: true, announce: 'none', lostAfterMs: 10_000, lingerMs: 0 },
    output,
    signals,
  );
}
