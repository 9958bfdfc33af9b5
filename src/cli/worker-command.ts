import { createHash } from 'node:crypto';
import { readFile, mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { CoordinatorClient } from '../distributed/worker-client.ts';
import { JoinError } from '../distributed/protocol.ts';
import { UsageError } from '../errors.ts';
import { last } from '../run/overrides.ts';
import type { FlagValue } from '../run/overrides.ts';
import type { Output } from '../run/run-environment.ts';
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
 */
export async function workerCommand(given: WorkerCommandFlags, output: Output, signals: NodeJS.EventEmitter = process): Promise<number> {
  const url = last(given.join);
  if (url === undefined || !/^https?:\/\//.test(url)) throw new UsageError(`--join: the coordinator's URL, e.g. http://fleetsim-coordinator:7070, got '${url ?? ''}'`);
  const token = last(given.token);
  if (token === undefined || token === '') throw new UsageError('--token: the token the coordinator printed (or FLEETSIM_TOKEN)');
  const client = new CoordinatorClient(url, token);
  const joined = await client.join();
  const quiet = given.quiet === true;
  const dir = joined.logRequests ? await mkdtemp(path.join(tmpdir(), 'fleetsim-worker-')) : undefined;
  try {
    let bytes: Buffer;
    try {
      bytes = await readFile(joined.profile.path);
    } catch (error) {
      throw new JoinError(`${joined.profile.path}: the coordinator's profile is not at that path here (${(error as NodeJS.ErrnoException).code ?? String(error)}); mount the same file there`);
    }
    const sha = createHash('sha256').update(bytes).digest('hex');
    if (sha !== joined.profile.sha256) throw new JoinError(`${joined.profile.path}: sha256 ${sha.slice(0, 12)} differs from the coordinator's ${joined.profile.sha256.slice(0, 12)}: workers run the coordinator's profile`);
    if (!quiet) output.stderr(`Joined ${url} as worker ${joined.index} of ${joined.count} (shard ${joined.index}/${joined.count}).`);
    const log = dir ? path.join(dir, 'requests.ndjson') : undefined;
    const { flags } = joined;
    return await runShard(
      {
        profile: joined.profile.path,
        ...flags,
        shard: `${joined.index}/${joined.count}`,
        quiet,
        ...(log ? { logRequests: log } : {}),
      },
      output,
      signals,
      {
        barrier: async () => {
          await client.ready();
        },
        attach: (engine) => engine.on('interval', (point) => client.interval(point)),
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
