import { existsSync } from 'node:fs';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { concatenateLogs } from '../distributed/concatenate-logs.ts';
import { MergeError, ShardMerger } from '../distributed/merge.ts';
import { readShard } from '../distributed/read-shard.ts';
import { WorkerPool } from '../distributed/workers.ts';
import type { WorkerEnd, WorkerInterval } from '../distributed/workers.ts';
import { refuseUnsplittable } from '../distributed/run-flags.ts';
import { startBrokerStats } from './broker-stats-flag.ts';
import { exitCodeFlag } from './exit-code-flag.ts';
import { parseLocalIps } from './local-ips.ts';
import { fleetProgressLine, worstPercentiles } from '../run/fleet-progress.ts';
import { loadRunPlan } from '../run/load-plan.ts';
import type { RunPlan } from '../profile/types.ts';
import { formatSummary } from '../report/console.ts';
import { checkWritableFile } from '../report/output-path.ts';
import { toolVersion } from '../util/version.ts';
import { last, outputFile, overridesFromFlags, parseStartAt } from '../run/overrides.ts';
import type { FlagValue } from '../run/overrides.ts';
import { closeReporters, fileReporters, finishReporters, jsonOnStdout, prepareReporters } from '../run/report-files.ts';
import type { RunCommandFlags } from './run-command.ts';
import { EXIT, openEnvironment, reportFixtureCounts, runExitCode } from '../run/run-environment.ts';
import type { Output } from '../run/run-environment.ts';

const fromSource = import.meta.url.endsWith('.ts');
const WORKER_ENTRY = new URL(fromSource ? './bin.ts' : './bin.js', import.meta.url);

/** The flags a worker gets as given, so it loads the same plan (the shape flags, seed and thresholds). */
function passThrough(given: RunCommandFlags, plan: RunPlan): string[] {
  const args: string[] = [];
  const one = (flag: string, value: FlagValue): void => {
    const text = last(value);
    if (text !== undefined) args.push(`--${flag}`, text);
  };
  const each = (flag: string, value: FlagValue): void => {
    if (value === undefined) return;
    for (const text of Array.isArray(value) ? (value as readonly (string | number)[]) : [value as string | number]) args.push(`--${flag}`, String(text));
  };
  one('devices', given.devices);
  one('spawn-rate', given.spawnRate);
  one('duration', given.duration);
  one('iterations', given.iterations);
  each('threshold', given.threshold);
  each('stage', given.stage);
  one('local-ips', given.localIps);
  one('min-delivered', given.minDelivered);
  // Each worker warms up and pre-connects first, then waits for the time (see run-command's execute).
  one('start-at', given.startAt);
  // A profile without a seed gets a random one: every worker must share the one drawn here.
  args.push('--seed', plan.seed);
  return args;
}

function describeEnd(end: WorkerEnd, count: number): string {
  const how = end.signal ? `was killed by ${end.signal}` : end.code === null ? 'could not start' : `exited with code ${end.code}`;
  return `worker ${end.index} (shard ${end.index}/${count}) ${how}: its shard is missing from the results`;
}

/** `fleetsim run --workers N`: the run's shards in N local child processes, one live line, one merged result. */
export async function runWorkersCommand(given: RunCommandFlags, workers: number, output: Output, signals: NodeJS.EventEmitter): Promise<number> {
  refuseUnsplittable(given as unknown as Record<string, unknown>, '--workers');
  // Checked here so a wrong address or time stops the run once, not in every worker.
  parseLocalIps(given.localIps);
  parseStartAt(given.startAt, Date.now());
  const exitCodeOnError = exitCodeFlag(given.exitCodeOnError);
  const quiet = given.quiet === true;
  const reporters = fileReporters(given, (text) => output.stdout(text));
  const logRequests = outputFile('log-requests', given.logRequests);
  const profile = path.resolve(given.profile);
  const plan = await loadRunPlan(profile, overridesFromFlags(given));
  await prepareReporters(reporters);
  if (logRequests) await checkWritableFile('--log-requests', logRequests);
  const environment = await openEnvironment(plan, output);
  // The broker's own figures are one observation of the whole broker, taken here once for the fleet.
  const probe = given.brokerStats === true ? await startBrokerStats(environment.endpoints.broker) : undefined;
  let brokerTaken = false;
  const dir = await mkdtemp(path.join(tmpdir(), 'fleetsim-workers-'));
  let keepDir = false;
  const pool = new WorkerPool(WORKER_ENTRY, fromSource ? ['--import', 'tsx'] : []);
  const latest = new Array<WorkerInterval | undefined>(workers);
  let interrupts = 0;
  let terminated = false;
  const onSignal = (signal: 'SIGINT' | 'SIGTERM'): void => {
    interrupts++;
    // The exit code is the first signal's, as a single process's is: 130 for Ctrl-C, 143 for SIGTERM.
    if (interrupts === 1) terminated = signal === 'SIGTERM';
    if (interrupts === 1 && !quiet) output.stderr('Interrupted: the workers drain in-flight requests, then write their results (Ctrl-C again to abandon them).');
    pool.signal('SIGINT');
  };
  const onInterrupt = (): void => onSignal('SIGINT');
  const onTerminate = (): void => onSignal('SIGTERM');
  signals.on('SIGINT', onInterrupt);
  signals.on('SIGTERM', onTerminate);
  const ticker = quiet
    ? undefined
    : setInterval(() => {
        const reported = latest.filter((interval): interval is WorkerInterval => interval !== undefined);
        const line = fleetProgressLine(reported, worstPercentiles(reported), workers, plan.durationMs);
        if (line === undefined) return;
        if (output.progress) output.progress(line);
        else output.stderr(line);
      }, 2000);
  try {
    pool.on('started', (index, pid) => {
      if (!quiet) output.stderr(`worker ${index}: shard ${index}/${workers}, pid ${pid}`);
    });
    pool.on('interval', (index, interval) => (latest[index] = interval));
    pool.on('stderr', (index, line) => output.stderr(`worker ${index}: ${line}`));
    pool.on('exit', (end) => {
      latest[end.index] = undefined;
      if (end.code !== EXIT.ok && end.code !== EXIT.thresholds && end.code !== EXIT.inconclusive && end.code !== EXIT.interrupted) {
        output.endProgress?.();
        output.stderr(`fleetsim: ${describeEnd(end, workers)}.`);
      }
    });
    const { endpoints } = environment;
    const shared = [...passThrough(given, plan), ...(endpoints.needsHttp ? ['--target', endpoints.target] : []), ...(endpoints.broker ? ['--broker', endpoints.broker] : [])];
    if (!quiet) output.stderr(`Running ${plan.name} in ${workers} workers (--shard i/${workers} each), seed ${plan.seed}.`);
    await pool.start(workers, (i) => ['run', profile, ...shared, '--shard', `${i}/${workers}`, '--json', path.join(dir, `${i}.json`), '--quiet', ...(logRequests ? ['--log-requests', path.join(dir, `${i}.ndjson`)] : [])]);
    clearInterval(ticker);
    output.endProgress?.();
    // Read as `merge` reads shard files, so a truncated or foreign one is the same clear error.
    const merger = new ShardMerger();
    const wrote: number[] = [];
    try {
      for (let i = 0; i < workers; i++) {
        const file = path.join(dir, `${i}.json`);
        if (!existsSync(file)) continue;
        merger.add(readShard(file, `worker ${i} (${file})`));
        wrote.push(i);
      }
    } catch (error) {
      if (!(error instanceof MergeError)) throw error;
      keepDir = true;
      throw new MergeError(`${error.message}; the workers' files are kept in ${dir}`);
    }
    if (wrote.length === 0) {
      output.stderr('fleetsim: no worker wrote results: nothing to report.');
      return EXIT.internal;
    }
    const combined = merger.finish({ partial: true, version: toolVersion() });
    brokerTaken = true;
    const broker = await probe?.finish();
    const merged = broker ? { ...combined, broker } : combined;
    const problems: string[] = [];
    if (logRequests) {
      try {
        await concatenateLogs(wrote.map((i) => path.join(dir, `${i}.ndjson`)), path.resolve(logRequests));
      } catch (error) {
        problems.push(`--log-requests: ${error instanceof Error ? error.message : String(error)}`);
      }
    }
    problems.push(...(await finishReporters(reporters, merged)));
    if (!quiet) await reportFixtureCounts(environment, output);
    if (jsonOnStdout(given)) output.stderr(formatSummary(merged));
    else output.stdout(formatSummary(merged));
    for (const problem of problems) output.stderr(`fleetsim: ${problem}`);
    if (merged.merged.missing.length > 0) {
      output.stderr(`fleetsim: ${merged.merged.missing.length} of ${workers} shards missing (${merged.merged.missing.map((i) => `${i}/${workers}`).join(', ')}): the results cover the others only.`);
      return EXIT.internal;
    }
    if (problems.length > 0) return EXIT.usage;
    if (interrupts > 0) return terminated ? EXIT.terminated : EXIT.interrupted;
    // The merged fleet's thresholds and load verdict, as one process's would be judged.
    return runExitCode(merged, 'duration', exitCodeOnError);
  } finally {
    clearInterval(ticker);
    signals.off('SIGINT', onInterrupt);
    signals.off('SIGTERM', onTerminate);
    pool.signal('SIGKILL');
    await closeReporters(reporters);
    // A run that ended early closes the probe without waiting for the broker's next tick.
    if (!brokerTaken) await probe?.finish(0);
    await environment.fixtures?.close();
    if (!keepDir) await rm(dir, { recursive: true, force: true });
  }
}

