import { fork } from 'node:child_process';
import type { ChildProcess } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { concatenateLogs } from '../distributed/concatenate-logs.ts';
import { Coordinator } from '../distributed/coordinator.ts';
import { mergeCoordinated } from '../distributed/coordinated-merge.ts';
import { HEARTBEAT_MS } from '../distributed/protocol.ts';
import type { StopReason, WorkerFlags } from '../distributed/protocol.ts';
import { refuseUnsplittable } from '../distributed/run-flags.ts';
import { UsageError } from '../errors.ts';
import type { HistoryPoint } from '../metrics/history.ts';
import { formatDuration, parseDurationMs } from '../profile/duration.ts';
import { formatSummary } from '../report/console.ts';
import { checkWritableFile } from '../report/output-path.ts';
import { pointsProgressLine } from '../run/fleet-progress.ts';
import { loadRunPlan } from '../run/load-plan.ts';
import { last, outputFile, overridesFromFlags, parseStartAt, parseWorkers } from '../run/overrides.ts';
import type { FlagValue } from '../run/overrides.ts';
import { closeReporters, fileReporters, finishReporters, jsonOnStdout, prepareReporters } from '../run/report-files.ts';
import { EXIT, openEnvironment, reportFixtureCounts, runExitCode } from '../run/run-environment.ts';
import type { Output } from '../run/run-environment.ts';
import { toolVersion } from '../util/version.ts';
import { startBrokerStats } from './broker-stats-flag.ts';
import { checkFleetViewFlags, openFleetViews } from './coordinate-live.ts';
import type { FleetViews } from './coordinate-live.ts';
import { exitCodeFlag } from './exit-code-flag.ts';
import { parseLocalIps } from './local-ips.ts';
import type { RunCommandFlags } from './run-command.ts';

/** The exit code of a coordinated run that lost a worker: its results cover the others only. */
export const EXIT_FLEET_INCOMPLETE = 97;

export interface CoordinateFlags extends RunCommandFlags {
  readonly listen?: FlagValue;
  readonly token?: FlagValue;
  readonly lostAfter?: FlagValue;
  readonly linger?: FlagValue;
  readonly local?: boolean | undefined;
}

const fromSource = import.meta.url.endsWith('.ts');
const ENTRY = new URL(fromSource ? './bin.ts' : './bin.js', import.meta.url);

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

const all = (value: FlagValue): string[] | undefined => (value === undefined ? undefined : (Array.isArray(value) ? (value as readonly (string | number)[]) : [value as string | number]).map(String));

/** The flags every worker runs with: the plan's shape, its seed and thresholds, and the one target and broker. */
function workerFlags(given: RunCommandFlags, seed: string, target: string | undefined, broker: string | undefined): WorkerFlags {
  const pick = (key: keyof WorkerFlags, value: FlagValue): Record<string, string> => {
    const text = last(value);
    return text === undefined ? {} : { [key]: text };
  };
  const threshold = all(given.threshold);
  const stage = all(given.stage);
  return {
    seed,
    ...pick('devices', given.devices),
    ...pick('spawnRate', given.spawnRate),
    ...pick('duration', given.duration),
    ...pick('iterations', given.iterations),
    ...pick('minDelivered', given.minDelivered),
    ...pick('localIps', given.localIps),
    ...(threshold ? { threshold } : {}),
    ...(stage ? { stage } : {}),
    ...(target !== undefined ? { target } : {}),
    ...(broker !== undefined ? { broker } : {}),
  };
}

/**
 * `fleetsim coordinate <profile> --workers N`: the hub of a fleet split over processes or pods.
 * Workers join it (`fleetsim worker --join URL --token T`, or `--local` starts them here); it
 * hands out shards and the plan, starts them together, merges their intervals as they come, and
 * writes the fleet's results. No shared volume: everything comes over HTTP.
 */
export async function coordinateCommand(given: CoordinateFlags, output: Output, signals: NodeJS.EventEmitter = process): Promise<number> {
  refuseUnsplittable(given as unknown as Record<string, unknown>, 'coordinate', new Set(), true);
  checkFleetViewFlags(given);
  const count = parseWorkers(given.workers);
  if (count === undefined) throw new UsageError('--workers: how many workers the coordinator waits for, e.g. --workers 3');
  const { host, port } = listenAddress(given.listen);
  const generated = last(given.token) === undefined;
  const token = last(given.token) ?? randomBytes(16).toString('hex');
  const lostAfterMs = durationFlag('lost-after', given.lostAfter, 10_000);
  const lingerMs = durationFlag('linger', given.linger, 0);
  parseLocalIps(given.localIps);
  const startAt = parseStartAt(given.startAt, Date.now());
  const exitCodeOnError = exitCodeFlag(given.exitCodeOnError);
  const quiet = given.quiet === true;
  const logRequests = outputFile('log-requests', given.logRequests);
  const profile = path.resolve(given.profile);
  const plan = await loadRunPlan(profile, overridesFromFlags(given));
  const reporters = fileReporters(given, (text) => output.stdout(text));
  await prepareReporters(reporters);
  if (logRequests) await checkWritableFile('--log-requests', logRequests);
  const environment = await openEnvironment(plan, output);
  const { endpoints } = environment;
  const logDir = logRequests ? await mkdtemp(path.join(tmpdir(), 'fleetsim-coordinator-')) : undefined;
  const coordinator = new Coordinator({
    count,
    token,
    profile: { path: profile, sha256: plan.profileSha256 },
    flags: workerFlags(given, plan.seed, endpoints.needsHttp ? endpoints.target : undefined, endpoints.broker),
    logDir,
    lostAfterMs,
    ...(startAt !== undefined ? { notBeforeMs: startAt } : {}),
  });
  const children: ChildProcess[] = [];
  const lostWhy = new Map<number, string>();
  const latest = new Map<number, HistoryPoint>();
  let probe: Awaited<ReturnType<typeof startBrokerStats>> | undefined;
  let views: FleetViews | undefined;
  let ticker: NodeJS.Timeout | undefined;
  let interrupted = 0;
  let firstStop: StopReason | undefined;
  let unstartable: number | undefined;
  let grace: NodeJS.Timeout | undefined;
  // Long enough for every worker to hear the stop (its next heartbeat), drain, and send its results and log.
  const graceMs = plan.drainTimeoutMs + 2 * HEARTBEAT_MS + 5_000;
  const done = new Promise<void>((resolve) => coordinator.once('done', resolve));
  const onSignal = (reason: StopReason): void => {
    interrupted++;
    output.endProgress?.();
    if (interrupted === 1) {
      // The exit code is the first signal's, as a single process's is: 130 for Ctrl-C, 143 for SIGTERM.
      firstStop = reason;
      output.stderr(
        `${reason === 'terminated' ? 'Terminated (SIGTERM)' : 'Interrupted'}: telling the workers to stop; they drain and send their results (waiting up to ${formatDuration(graceMs)}; Ctrl-C again to stop waiting).`,
      );
      coordinator.stop(reason);
      grace = setTimeout(() => coordinator.abort(`no results within ${formatDuration(graceMs)} of the stop`), graceMs);
    } else if (interrupted === 2) {
      output.stderr('Not waiting for the workers any more: writing what they sent.');
      coordinator.abort('the coordinator stopped waiting for it');
    }
  };
  const onInterrupt = (): void => onSignal('interrupted');
  const onTerminate = (): void => onSignal('terminated');
  const stopCode = (): number => (firstStop === 'terminated' ? EXIT.terminated : EXIT.interrupted);
  try {
    views = await openFleetViews(given, coordinator, plan, count, output);
    // The broker's own figures are one observation of the whole broker, taken here once for the fleet.
    if (given.brokerStats === true) probe = await startBrokerStats(endpoints.broker);
    const url = await coordinator.listen(host, port);
    signals.on('SIGINT', onInterrupt);
    signals.on('SIGTERM', onTerminate);
    coordinator.on('joined', (worker) => {
      if (!quiet) output.stderr(`worker ${worker.index} joined from ${worker.from} (${coordinator.workers.length}/${count}): shard ${worker.index}/${count}`);
    });
    coordinator.on('barrier', (at) => {
      if (!quiet) output.stderr(`All ${count} workers ready (warmed up, connected): starting at ${new Date(at).toISOString()}.`);
    });
    coordinator.on('unstartable', (worker) => {
      unstartable ??= worker.index;
      output.endProgress?.();
      output.stderr(`fleetsim: worker ${worker.index} ended before the common start: the fleet cannot start whole; telling the others to stop.`);
    });
    coordinator.on('interval', (worker, point) => latest.set(worker.index, point));
    coordinator.on('finished', (worker) => latest.delete(worker.index));
    coordinator.on('lost', (worker, why) => {
      lostWhy.set(worker.index, why);
      latest.delete(worker.index);
      output.endProgress?.();
      output.stderr(`fleetsim: worker ${worker.index} (shard ${worker.index}/${count}, ${worker.from}) was lost: ${why}; its data until then is kept.`);
    });
    if (!quiet) {
      output.stderr(`Coordinating ${plan.name}: ${count} workers, seed ${plan.seed}, listening on ${url}.`);
      output.stderr(generated ? `Workers join with: fleetsim worker --join ${url} --token ${token}` : `Workers join with: fleetsim worker --join ${url} --token <the token>`);
      ticker = setInterval(() => {
        const line = pointsProgressLine([...latest.values()], count, plan.durationMs);
        if (line === undefined) return;
        if (output.progress) output.progress(line);
        else output.stderr(line);
      }, 2000);
    }
    if (given.local === true) {
      for (let i = 0; i < count; i++) {
        const child = fork(ENTRY, ['worker', '--join', url, '--quiet'], {
          execArgv: fromSource ? ['--import', 'tsx'] : [],
          env: { ...process.env, FLEETSIM_TOKEN: token },
          stdio: ['ignore', 'ignore', 'inherit', 'ipc'],
        });
        children.push(child);
      }
    }
    await done;
    clearTimeout(grace);
    clearInterval(ticker);
    output.endProgress?.();
    if (firstStop === undefined && unstartable !== undefined) {
      output.stderr(`fleetsim: the fleet never started: worker ${unstartable} ended before the common start; no results.`);
      return EXIT_FLEET_INCOMPLETE;
    }
    if (interrupted > 0 && !coordinator.workers.some((worker) => worker.results)) {
      output.stderr('fleetsim: interrupted before any worker sent its results: nothing to report.');
      return stopCode();
    }
    const merged = mergeCoordinated(coordinator.workers, lostWhy, coordinator.startedAtMs, toolVersion());
    const broker = await probe?.finish();
    probe = undefined;
    const results = broker ? { ...merged, broker } : merged;
    const problems: string[] = [];
    if (logRequests && logDir) {
      try {
        await concatenateLogs(coordinator.workers.map((worker) => worker.logFile ?? ''), path.resolve(logRequests));
      } catch (error) {
        problems.push(`--log-requests: ${error instanceof Error ? error.message : String(error)}`);
      }
    }
    problems.push(...(await finishReporters(reporters, results)));
    coordinator.download = JSON.stringify(results);
    views?.finish(results);
    if (!quiet) await reportFixtureCounts(environment, output);
    if (jsonOnStdout(given)) output.stderr(formatSummary(results));
    else output.stdout(formatSummary(results));
    const spread = merged.coordinator.startSpreadMs;
    if (spread !== null) output.stderr(`Workers' first intervals began within ${spread} ms of each other.`);
    for (const problem of problems) output.stderr(`fleetsim: ${problem}`);
    if (lingerMs > 0 && interrupted === 0) {
      // The run is over: Ctrl-C now only ends the serving, and the exit code stays the run's.
      signals.off('SIGINT', onInterrupt);
      signals.off('SIGTERM', onTerminate);
      output.stderr(`Serving the results at ${url}/results.json for ${formatDuration(lingerMs)} (Ctrl-C ends it).`);
      await new Promise<void>((resolve) => {
        const timer = setTimeout(resolve, lingerMs);
        const stop = (): void => {
          clearTimeout(timer);
          resolve();
        };
        signals.once('SIGINT', stop);
        signals.once('SIGTERM', stop);
      });
    }
    const lost = merged.coordinator.lost;
    if (lost.length > 0) {
      output.stderr(`fleetsim: the fleet was incomplete: worker${lost.length === 1 ? '' : 's'} ${lost.join(', ')} of ${count} lost; the results cover the others' counts, and the lost workers' intervals until then.`);
    }
    // Interrupted, the code is the signal's (as `run`'s is), lost workers or not: the run was cut short on purpose.
    if (firstStop === undefined && lost.length > 0) return EXIT_FLEET_INCOMPLETE;
    if (problems.length > 0) return EXIT.usage;
    if (firstStop !== undefined) return stopCode();
    return runExitCode(results, 'duration', exitCodeOnError);
  } finally {
    clearInterval(ticker);
    clearTimeout(grace);
    signals.off('SIGINT', onInterrupt);
    signals.off('SIGTERM', onTerminate);
    if (probe) await probe.finish(0);
    await views?.close();
    await coordinator.close();
    // Local workers have sent their results and are exiting (or were told to stop): a moment to end on their own.
    await Promise.race([Promise.all(children.map(exited)), new Promise((resolve) => setTimeout(resolve, 5_000).unref())]);
    for (const child of children) if (child.exitCode === null && child.signalCode === null) child.kill('SIGKILL');
    await closeReporters(reporters);
    await environment.fixtures?.close();
    if (logDir) await rm(logDir, { recursive: true, force: true });
  }
}

function exited(child: ChildProcess): Promise<void> {
  if (child.exitCode !== null || child.signalCode !== null) return Promise.resolve();
  return new Promise((resolve) => child.once('exit', () => resolve()));
}
