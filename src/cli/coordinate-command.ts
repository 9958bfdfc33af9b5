import { randomBytes } from 'node:crypto';
import { UsageError } from '../errors.ts';
import { parseDurationMs } from '../profile/duration.ts';
import { last, parseWorkers } from '../run/overrides.ts';
import type { FlagValue } from '../run/overrides.ts';
import type { Output } from '../run/run-environment.ts';
import { runCoordinated } from './coordinated-run.ts';
import type { RunCommandFlags } from './run-command.ts';

export interface CoordinateFlags extends RunCommandFlags {
  readonly listen?: FlagValue;
  readonly token?: FlagValue;
  readonly lostAfter?: FlagValue;
  readonly linger?: FlagValue;
  readonly local?: boolean | undefined;
}

function listenAddress(value: FlagValue): { host: string; port: number } {
  const text = last(value) ?? '127.0.0.1:7070';
  const match = /^(.*):(\d+)$/.exec(text.trim());
  const port = Number(match?.[2]);
  if (!match || !Number.isInteger(port) || port > 65535) throw new UsageError(`--listen: expected HOST:PORT, e.g. 0.0.0.0:7070 (port 0 picks a free one), got '${text}'`);
  return { host: (match[1] ?? '').replace(/^\[(.*)\]$/, '$1') || '0.0.0.0', port };
}

function durationFlag(flag: string, value: FlagValue, fallbackMs: number): number {
  const text = last(value);
  if (text === undefined) return fallbackMs;
  const ms = parseDurationMs(text);
  if (ms === undefined || ms < 0) throw new UsageError(`--${flag}: expected a duration such as 10s or 5m, got '${text}'`);
  return ms;
}

/**
 * `fleetsim coordinate <profile> --workers N`: the hub of a fleet split over processes or pods.
 * Workers join it (`fleetsim worker --join URL --token T`, or `--local` starts them here); it
 * hands out shards and the plan, starts them together, merges their intervals as they come, and
 * writes the fleet's results. No shared volume: everything comes over HTTP.
 */
export async function coordinateCommand(given: CoordinateFlags, output: Output, signals: NodeJS.EventEmitter = process): Promise<number> {
  const count = parseWorkers(given.workers);
  if (count === undefined) throw new UsageError('--workers: how many workers the coordinator waits for, e.g. --workers 3');
  const { host, port } = listenAddress(given.listen);
  const generated = last(given.token) === undefined;
  return runCoordinated(
    given,
    {
      mode: 'coordinate',
      count,
      host,
      port,
      token: last(given.token) ?? randomBytes(16).toString('hex'),
      local: given.local === true,
      announce: generated ? 'token' : 'placeholder',
      lostAfterMs: durationFlag('lost-after', given.lostAfter, 10_000),
      lingerMs: durationFlag('linger', given.linger, 0),
    },
    output,
    signals,
  );
}
