import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { concatenateLogs } from '../distributed/concatenate-logs.ts';
import { Coordinator } from '../distributed/coordinator.ts';
import { mergeCoordinated } from '../distributed/coordinated-merge.ts';
import { describeLocalEnd, LocalWorkers } from '../distributed/local-workers.ts';
import { HEARTBEAT_MS } from '../distributed/protocol.ts';
import type { StopReason, WorkerFlags } from '../distributed/protocol.ts';
import { refuseUnsplittable } from '../distributed/run-flags.ts';
import { checkFleetViewFlags, openFleetViews } from './coordinate-live.ts';
import type { FleetViews } from './coordinate-live.ts';
import type { HistoryPoint } from '../metrics/history.ts';
import { formatDuration } from '../profile/duration.ts';
import { formatSummary } from '../report/console.ts';
import { checkWritableFile } from '../report/output-path.ts';
import { pointsProgressLine } from '../run/fleet-progress.ts';
import { loadRunPlan } from '../run/load-plan.ts';
import { last, outputFile, overridesFromFlags, parseStartAt } from '../run/overrides.ts';
import type { FlagValue } from '../run/overrides.ts';
import { closeReporters, fileReporters, finishReporters, jsonOnStdout, prepareReporters } from '../run/report-files.ts';
import { EXIT, openEnvironment, reportFixtureCounts, runExitCode } from '../run/run-environment.ts';
import type { Output } from '../run/run-environment.ts';
import { toolVersion } from '../util/version.ts';
import { startBrokerStats } from './broker-stats-flag.ts';
import { exitCodeFlag } from './exit-code-flag.ts';
import { parseLocalIps } from './local-ips.ts';
import type { RunCommandFlags } from './run-command.ts';

/** The exit code of a coordinated run that lost a worker: its results cover the others only. */
export const EXIT_FLEET_INCOMPLETE = 97;

/** How a coordinated run is set up: `coordinate`'s flags, or `run --workers`' fixed local case. */
export interface CoordinatedRunOptions {
  /** How the run is named in a refused flag's message: `coordinate`, `--workers`. */
  readonly mode: string;
  readonly count: number;
  readonly host: string;
  readonly port: number;
  readonly token: string;
  /** Start the `count` workers here, as child processes (they join over loopback like any other). */
  readonly local: boolean;
  /**
   * The join line: with the `token` when it was generated here (no one else knows it), a
   * `placeholder` when the user gave it, `none` when only local workers join (the token stays here).
   */
  readonly announce: 'token' | 'placeholder' | 'none';
  readonly lostAfterMs: number;
  readonly lingerMs: number;
}

const fromSource = import.meta.url.endsWith('.ts');
const ENTRY = new URL(fromSource ? './bin.ts' : './bin.js', import.meta.url);

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
 * One fleet split over worker processes, as `coordinate` and `run --workers` both run it: the
 * coordinator hands out shards and the plan, starts the workers together, merges their intervals
 * as they come, and writes the fleet's results. Local workers are started here and join over
 * loopback like any other; one whose process ends early is lost at once rather than after
 * `--lost-after` of silence.
 */
export async function runCoordinated(given: RunCommandFlags, options: CoordinatedRunOptions, output: Output, signals: NodeJS.EventEmitter): Promise<number> {
  // Both routes run the coordinator, so both serve the fleet's live views (--ui, --metrics-port).
  refuseUnsplittable(given as unknown as Record<string, unknown>, options.mode, new Set(), true);
  checkFleetViewFlags(given);
  const { count, token } = options;
  // Checked here so a wrong address or time stops the run once, not in every worker.
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
    lostAfterMs: options.lostAfterMs,
    ...(startAt !== undefined ? { notBeforeMs: startAt } : {}),
  });
  const local = options.local ? new LocalWorkers(ENTRY, fromSource ? ['--import', 'tsx'] : []) : undefined;
  const lostWhy = new Map<number, string>();
  const latest = new Map<number, HistoryPoint>();
  let probe: Awaited<ReturnType<typeof startBrokerStats>> | undefined;
  let ticker: NodeJS.Timeout | undefined;
  let interrupted = 0;
  let firstStop: StopReason | undefined;
  let unstartable: string | undefined;
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
  const cannotStart = (who: string): void => {
    unstartable ??= who;
    output.endProgress?.();
    output.stderr(`fleetsim: ${who} ended before the common start: the fleet cannot start whole; telling the others to stop.`);
  };
  const localIndex = (pid: number | undefined): number | undefined => (pid === undefined ? undefined : coordinator.workers.find((worker) => worker.pid === pid)?.index);
  let views: FleetViews | undefined;
  try {
    views = await openFleetViews(given, coordinator, plan, count, output);
    // The broker's own figures are one observation of the whole broker, taken here once for the fleet.
    if (given.brokerStats === true) probe = await startBrokerStats(endpoints.broker);
    const url = await coordinator.listen(options.host, options.port);
    signals.on('SIGINT', onInterrupt);
    signals.on('SIGTERM', onTerminate);
    coordinator.on('joined', (worker) => {
      if (!quiet)
        output.stderr(
          `worker ${worker.index} joined from ${worker.from} (${coordinator.workers.length}/${count}): shard ${worker.index}/${count}${worker.pid === undefined ? '' : `, pid ${worker.pid}`}`,
        );
    });
    coordinator.on('barrier', (at) => {
      if (!quiet) output.stderr(`All ${count} workers ready (warmed up, connected): starting at ${new Date(at).toISOString()}.`);
      // The barrier opens on the next whole second: only a time missed by more than that is late.
      if (startAt !== undefined && at - startAt > 1000) {
        output.stderr(
          `fleetsim: warning: --start-at ${new Date(startAt).toISOString()} had passed by ${((at - startAt) / 1000).toFixed(1)} s when every worker was ready: starting then, out of step with runs that started on time.`,
        );
      }
    });
    coordinator.on('unstartable', (worker) => cannotStart(`worker ${worker.index}`));
    coordinator.on('interval', (worker, point) => latest.set(worker.index, point));
    coordinator.on('finished', (worker) => latest.delete(worker.index));
    coordinator.on('lost', (worker, why) => {
      lostWhy.set(worker.index, why);
      latest.delete(worker.index);
      output.endProgress?.();
      output.stderr(`fleetsim: worker ${worker.index} (shard ${worker.index}/${count}, ${worker.from}) was lost: ${why}; its data until then is kept.`);
    });
    if (!quiet) {
      if (options.announce === 'none') output.stderr(`Running ${plan.name} in ${count} local workers (shard i/${count} each, coordinated at ${url}), seed ${plan.seed}.`);
      else output.stderr(`Coordinating ${plan.name}: ${count} workers, seed ${plan.seed}, listening on ${url}.`);
      if (options.announce === 'token') output.stderr(`Workers join with: fleetsim worker --join ${url} --token ${token}`);
      if (options.announce === 'placeholder') output.stderr(`Workers join with: fleetsim worker --join ${url} --token <the token>`);
      ticker = setInterval(() => {
        const line = pointsProgressLine([...latest.values()], count, plan.durationMs);
        if (line === undefined) return;
        if (output.progress) output.progress(line);
        else output.stderr(line);
      }, 2000);
    }
    if (local) {
      local.on('stderr', (pid, line) => {
        const index = localIndex(pid);
        output.stderr(`worker ${index ?? `pid ${pid ?? '?'}`}: ${line}`);
      });
      local.on('exit', (end) => {
        const index = localIndex(end.pid);
        // Its results are in (or it was already lost): an ordinary end.
        if (index !== undefined) return coordinator.lose(index, `its process ${describeLocalEnd(end)}`);
        // One that never joined holds the barrier shut for good.
        if (coordinator.startedAtMs === undefined && firstStop === undefined && unstartable === undefined) {
          cannotStart(`a local worker (pid ${end.pid ?? '?'}, which ${describeLocalEnd(end)} before joining)`);
          coordinator.stop('interrupted');
        }
      });
      local.start(count, url, token);
    }
    await done;
    clearTimeout(grace);
    clearInterval(ticker);
    output.endProgress?.();
    if (firstStop === undefined && unstartable !== undefined) {
      output.stderr(`fleetsim: the fleet never started: ${unstartable} ended before the common start; no results.`);
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
        await concatenateLogs(
          coordinator.workers.map((worker) => worker.logFile ?? ''),
          path.resolve(logRequests),
        );
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
    if (options.lingerMs > 0 && interrupted === 0) {
      // The run is over: Ctrl-C now only ends the serving, and the exit code stays the run's.
      signals.off('SIGINT', onInterrupt);
      signals.off('SIGTERM', onTerminate);
      output.stderr(`Serving the results at ${url}/results.json for ${formatDuration(options.lingerMs)} (Ctrl-C ends it).`);
      await new Promise<void>((resolve) => {
        const timer = setTimeout(resolve, options.lingerMs);
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
      output.stderr(
        `fleetsim: the fleet was incomplete: worker${lost.length === 1 ? '' : 's'} ${lost.join(', ')} of ${count} lost; the results cover the others' counts, and the lost workers' intervals until then.`,
      );
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
    await local?.end(5_000);
    await closeReporters(reporters);
    await environment.fixtures?.close();
    if (logDir) await rm(logDir, { recursive: true, force: true });
  }
}
