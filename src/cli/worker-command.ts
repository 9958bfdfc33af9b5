import { createHash } from 'node:crypto';
import { EventEmitter } from 'node:events';
import { readFile, mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { CoordinatorClient } from '../distributed/worker-client.ts';
import { applyRamp } from '../distributed/apply-ramp.ts';
import { JoinError } from '../distributed/protocol.ts';
import { UsageError } from '../errors.ts';
import { last } from '../run/overrides.ts';
import type { FlagValue } from '../run/overrides.ts';
import { EXIT } from '../run/run-environment.ts';
import type { Output } from '../run/run-environment.ts';
import { takeHeldSignals } from './early-signals.ts';
import { runShard } from './run-command.ts';

export interface WorkerCommandFlags {
  readonly join?: FlagValue;
  readonly token?: FlagValue;
  readonly quiet?: boolean | undefined;
}

/**
 * `fleetsim worker --join URL --token T`: joins a coordinator, runs the shard it is given with the
 * plan it is given, starts at the barrier, streams its intervals, and sends its results (and
 * request log). The profile is read here, at the path the coordinator names, and must be the same
 * file (its sha256).
 *
 * Signals are this command's from its start: one while it joins ends it at once (130 or 143, no
 * run); after that the run handles them (drain, results) as `run` does. The coordinator's stop
 * arrives as if it were this process's own first signal.
 */
export async function workerCommand(given: WorkerCommandFlags, output: Output, signals: NodeJS.EventEmitter = process): Promise<number> {
  const relay = new EventEmitter();
  let first: 'SIGINT' | 'SIGTERM' | undefined;
  let client: CoordinatorClient | undefined;
  const forward = (signal: 'SIGINT' | 'SIGTERM' | 'SIGHUP'): void => {
    if (signal !== 'SIGHUP' && first === undefined) {
      first = signal;
      client?.stopWaiting();
    }
    relay.emit(signal);
  };
  const onInterrupt = (): void => forward('SIGINT');
  const onTerminate = (): void => forward('SIGTERM');
  const onHangUp = (): void => forward('SIGHUP');
  signals.on('SIGINT', onInterrupt);
  signals.on('SIGTERM', onTerminate);
  signals.on('SIGHUP', onHangUp);
  for (const held of takeHeldSignals()) forward(held);
  try {
    return await joinAndRun(
      given,
      output,
      relay,
      () => first,
      (made) => (client = made),
    );
  } finally {
    signals.off('SIGINT', onInterrupt);
    signals.off('SIGTERM', onTerminate);
    signals.off('SIGHUP', onHangUp);
  }
}

const exitFor = (signal: 'SIGINT' | 'SIGTERM'): number => (signal === 'SIGTERM' ? EXIT.terminated : EXIT.interrupted);

async function joinAndRun(
  given: WorkerCommandFlags,
  output: Output,
  relay: EventEmitter,
  signalled: () => 'SIGINT' | 'SIGTERM' | undefined,
  made: (client: CoordinatorClient) => void,
): Promise<number> {
  const url = last(given.join);
  if (url === undefined || !/^https?:\/\//.test(url)) throw new UsageError(`--join: the coordinator's URL, e.g. http://fleetsim-coordinator:7070, got '${url ?? ''}'`);
  const token = last(given.token);
  if (token === undefined || token === '') throw new UsageError('--token: the token the coordinator printed (or FLEETSIM_TOKEN)');
  const quiet = given.quiet === true;
  // The coordinator's stop (it was interrupted, or declared this worker lost) is this worker's Ctrl-C.
  const client = new CoordinatorClient(url, token, (reason) => {
    if (signalled() !== undefined) return;
    client.stopWaiting();
    if (!quiet) output.stderr(`fleetsim: the coordinator says stop (${reason}).`);
    relay.emit(reason === 'terminated' ? 'SIGTERM' : 'SIGINT');
  });
  made(client);
  const stoppedEarly = (): number | undefined => {
    const signal = signalled();
    if (signal === undefined) return undefined;
    if (!quiet) output.stderr(`${signal === 'SIGTERM' ? 'Terminated (SIGTERM)' : 'Interrupted'} before the run started: no run.`);
    return exitFor(signal);
  };
  let joined;
  try {
    if (signalled() !== undefined) return stoppedEarly() ?? EXIT.interrupted;
    joined = await client.join();
  } catch (error) {
    const code = stoppedEarly();
    if (code !== undefined) return code;
    throw error;
  }
  const dir = joined.logRequests ? await mkdtemp(path.join(tmpdir(), 'fleetsim-worker-')) : undefined;
  try {
    let bytes: Buffer;
    try {
      bytes = await readFile(joined.profile.path);
    } catch (error) {
      throw new JoinError(`${joined.profile.path}: the coordinator's profile is not at that path here (${(error as NodeJS.ErrnoException).code ?? String(error)}); mount the same file there`);
    }
    const sha = createHash('sha256').update(bytes).digest('hex');
    if (sha !== joined.profile.sha256)
      throw new JoinError(`${joined.profile.path}: sha256 ${sha.slice(0, 12)} differs from the coordinator's ${joined.profile.sha256.slice(0, 12)}: workers run the coordinator's profile`);
    if (!quiet) output.stderr(`Joined ${url} as worker ${joined.index} of ${joined.count} (shard ${joined.index}/${joined.count}).`);
    const log = dir ? path.join(dir, 'requests.ndjson') : undefined;
    const { flags } = joined;
    // runShard takes the signals from here on (it listens on `relay` from its first line).
    const early = stoppedEarly();
    if (early !== undefined) return early;
    return await runShard(
      {
        profile: joined.profile.path,
        ...flags,
        shard: `${joined.index}/${joined.count}`,
        quiet,
        ...(log ? { logRequests: log } : {}),
      },
      output,
      relay,
      {
        barrier: async () => {
          await client.ready();
        },
        attach: (engine) => {
          engine.on('interval', (point) => client.interval(point, engine.targetDevices));
          client.onRamp = (order) => applyRamp(engine, order, (line) => !quiet && output.stderr(line));
        },
        finished: async (results) => {
          // The log first: the coordinator's run is done once every worker's results are in.
          if (log) await client.sendLog(log);
          await client.results(results);
        },
      },
    );
  } finally {
    client.close();
    if (dir) await rm(dir, { recursive: true, force: true });
  }
}
