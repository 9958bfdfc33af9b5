import path from 'node:path';
import { keepaliveWheel } from '../transport/mqtt/keepalive-wheel.ts';
import { Engine } from '../engine/engine.ts';
import type { StopReason } from '../engine/events.ts';
import type { Results } from '../metrics/results.ts';
import { GeneratorMonitor } from '../metrics/generator-monitor.ts';
import { describeStages } from '../engine/schedule/stages.ts';
import { formatDuration } from '../profile/duration.ts';
import { loadRunPlan } from '../run/load-plan.ts';
import type { RunPlan, Shard } from '../profile/types.ts';
import { formatSummary } from '../report/console.ts';
import { PrometheusReporter } from '../report/prometheus.ts';
import { checkWritableFile } from '../report/output-path.ts';
import { ProgressReporter } from '../report/progress.ts';
import type { Reporter } from '../report/reporter.ts';
import { RequestLog } from '../report/request-log.ts';
import { startBrokerStats } from './broker-stats-flag.ts';
import { metricsEndpointFromFlags } from './metrics-flags.ts';
import { UsageError } from '../errors.ts';
import { outputFile, overridesFromFlags, parseShard, parseStartAt, parseWorkers } from '../run/overrides.ts';
import { parseLocalIps } from './local-ips.ts';
import { closeReporters, fileReporters, finishReporters, prepareReporters } from '../run/report-files.ts';
import { runWorkersCommand } from './workers-command.ts';
import { exitCodeFlag } from './exit-code-flag.ts';
import { uiCommand } from './ui-command.ts';
import type { UiFlags } from './ui-command.ts';
import type { FlagValue, RunFlags } from '../run/overrides.ts';
import { releaseHeldSignals, takeHeldSignals } from './early-signals.ts';
import { RunSignals } from './run-signals.ts';
import { checkConnections, EXIT, openEnvironment, reportFixtureCounts, resultsOf, runExitCode } from '../run/run-environment.ts';
import type { Output, RunEnvironment } from '../run/run-environment.ts';
import { describeShortParts, shardPlan } from '../engine/fleet/shard.ts';

export { EXIT } from '../run/run-environment.ts';
export type { Output } from '../run/run-environment.ts';

export interface RunCommandFlags extends RunFlags, UiFlags {
  readonly profile: string;
  readonly json?: FlagValue;
  readonly exitCodeOnError?: FlagValue;
  readonly csv?: FlagValue;
  readonly html?: FlagValue;
  readonly logRequests?: FlagValue;
  readonly quiet?: boolean | undefined;
  readonly metricsPort?: FlagValue;
  readonly metricsHost?: FlagValue;
  readonly shard?: FlagValue;
  readonly workers?: FlagValue;
  readonly startAt?: FlagValue;
  readonly localIps?: FlagValue;
  readonly brokerStats?: boolean | undefined;
  readonly ui?: boolean | undefined;
  /** With --ui: the most devices the page may raise the run to. */
  readonly maxDevices?: FlagValue;
}

/** The flags `execute` works with: output files resolved to one name each. */
interface RunSettings {
  readonly json: string | undefined;
  readonly logRequests: string | undefined;
  readonly quiet: boolean;
  /** Locust's --exit-code-on-error: the exit code when any attempt failed (thresholds and interrupts take precedence). */
  readonly exitCodeOnError: number | undefined;
  /** Epoch ms to start at (`--start-at`), so separately launched shards begin together. */
  readonly startAt: number | undefined;
  /** Record the broker's own $SYS figures beside fleetsim's (`--broker-stats`). */
  readonly brokerStats: boolean;
}

/** How a coordinated worker joins a run: its barrier before the clock starts, and what it streams. */
export interface RunHooks {
  /** Resolves when the run may start: after warm-up, pre-connect and the broker probe. */
  readonly barrier?: () => Promise<void>;
  /** Sees the engine before anything runs (to stream its intervals). */
  readonly attach?: (engine: Engine) => void;
  /** Takes the finished results (to send them); the run's exit code still comes from them. */
  readonly finished?: (results: Results) => Promise<void>;
}

/** `fleetsim run`: returns the exit code; never calls process.exit itself. */
export async function runCommand(given: RunCommandFlags, output: Output, signals: NodeJS.EventEmitter = process): Promise<number> {
  if (given.maxDevices !== undefined && given.ui !== true && (parseWorkers(given.workers) ?? 1) === 1)
    throw new UsageError('--max-devices: only with --ui (the most devices the page may raise the run to)');
  if (given.ui === true || (parseWorkers(given.workers) ?? 1) > 1) {
    // These handle signals their own way, from when they start.
    releaseHeldSignals();
    // Several workers run under a coordinator, which serves the fleet's own page when --ui asks.
    if ((parseWorkers(given.workers) ?? 1) > 1) return runWorkersCommand(given, parseWorkers(given.workers) ?? 1, output, signals);
    return runWithUi(given, output, signals);
  }
  // From here to the last report, a signal ends the run with its reports, whatever the moment.
  const runSignals = new RunSignals(signals, output, given.quiet === true);
  runSignals.replay(takeHeldSignals());
  try {
    return await runCommandWith(given, output, runSignals);
  } finally {
    runSignals.dispose();
  }
}

/** One shard of a coordinated run, in this process: `run`'s path with the worker's barrier and streams. */
export async function runShard(given: RunCommandFlags, output: Output, signals: NodeJS.EventEmitter, hooks: RunHooks): Promise<number> {
  const runSignals = new RunSignals(signals, output, given.quiet === true);
  runSignals.replay(takeHeldSignals());
  try {
    return await runCommandWith(given, output, runSignals, hooks);
  } finally {
    runSignals.dispose();
  }
}

async function runCommandWith(given: RunCommandFlags, output: Output, runSignals: RunSignals, hooks: RunHooks = {}): Promise<number> {
  const flags: RunSettings = {
    json: outputFile('json', given.json),
    logRequests: outputFile('log-requests', given.logRequests),
    quiet: given.quiet === true,
    exitCodeOnError: exitCodeFlag(given.exitCodeOnError),
    startAt: parseStartAt(given.startAt, Date.now()),
    brokerStats: given.brokerStats === true,
  };
  const metrics = metricsEndpointFromFlags(given.metricsPort, given.metricsHost);
  const shard = parseShard(given.shard);
  const localAddresses = parseLocalIps(given.localIps);
  const loaded = await loadRunPlan(path.resolve(given.profile), overridesFromFlags(given));
  const sharded = shard ? shardPlan(loaded, shard) : undefined;
  const plan: RunPlan = { ...(sharded?.plan ?? loaded), ...(localAddresses ? { localAddresses } : {}) };
  if (sharded && shard) for (const line of describeShortParts(sharded.parts, shard)) output.stderr(`fleetsim: warning: ${line}.`);
  checkConnections(plan);
  const reporters = fileReporters(given, (text) => output.stdout(text));
  if (metrics) reporters.push(new PrometheusReporter(metrics, (line) => output.stderr(line)));
  await prepareReporters(reporters);
  if (flags.logRequests) await checkWritableFile('--log-requests', flags.logRequests);
  const requestLog = flags.logRequests ? new RequestLog(path.resolve(flags.logRequests)) : undefined;
  await requestLog?.opened();
  const environment = await openEnvironment(plan, output);
  try {
    return await execute(plan, environment, flags, output, runSignals, requestLog, reporters, hooks);
  } finally {
    await closeReporters(reporters);
    await environment.fixtures?.close();
  }
}

async function execute(
  plan: RunPlan,
  environment: RunEnvironment,
  flags: RunSettings,
  output: Output,
  runSignals: RunSignals,
  requestLog: RequestLog | undefined,
  reporters: readonly Reporter[],
  hooks: RunHooks = {},
): Promise<number> {
  const { endpoints } = environment;
  const monitor = new GeneratorMonitor();
  const engine = new Engine({ plan, target: endpoints.target, broker: endpoints.broker, generator: monitor });
  requestLog?.attach(engine);
  for (const reporter of reporters) reporter.attach?.(engine);
  hooks.attach?.(engine);

  const progress = flags.quiet ? undefined : new ProgressReporter(output, plan.durationMs);
  progress?.attach(engine);
  let stopReason = 'requested' as StopReason;
  let onlineAtStop = 0;
  engine.on('stopping', (reason) => {
    stopReason = reason;
    onlineAtStop = engine.online;
    // A signal says so itself (RunSignals); an end the plan reached is said here, with what it waits for.
    if (!flags.quiet && (reason === 'duration' || reason === 'iterations')) {
      output.stderr(`Run ended (${reason}): draining ${engine.inFlight} in-flight attempt${engine.inFlight === 1 ? '' : 's'} for up to ${formatDuration(plan.drainTimeoutMs)}, then writing reports.`);
    }
  });
  const outputs = reporters
    .map((reporter) => reporter.flag)
    .filter((flag) => flag !== '--metrics-port')
    .concat(requestLog ? ['--log-requests'] : []);
  if (!flags.quiet && outputs.length > 0) engine.once('done', () => output.stderr(`Writing reports: ${outputs.join(', ')}.`));
  runSignals.attach(engine);

  if (!flags.quiet) {
    const ending = plan.iterations !== undefined ? `${plan.iterations} iterations per device` : '';
    const duration = plan.durationMs !== undefined ? `${plan.durationMs / 1000}s` : '';
    const against = [endpoints.needsHttp ? endpoints.target : '', endpoints.broker ?? ''].filter(Boolean).join(' and ');
    const shape = plan.stages
      ? `${plan.stages.length} stage${plan.stages.length === 1 ? '' : 's'} up to ${plan.devices} devices`
      : `${plan.devices} devices ${plan.spawnMode === 'all-at-once' ? 'all at once' : `at ${plan.spawnRate}/s`}`;
    output.stderr(`Running ${plan.name}: ${shape} against ${against}, ${[duration, ending].filter(Boolean).join(' or ')}, seed ${plan.seed}.`);
    if (plan.shard) output.stderr(describeShard(plan.shard, engine.ownedDevices, plan));
    if (plan.stages) for (const line of describeStages(plan.stages, formatDuration)) output.stderr(`  ${line}`);
  }
  const probe = flags.brokerStats ? await startBrokerStats(endpoints.broker) : undefined;
  // Warm-up, pre-connect and the broker probe come before the common start, so shards aimed at one
  // moment start at it rather than each after its own preparations.
  let times;
  let keepaliveFrom;
  try {
    await engine.prepare();
    if (flags.startAt !== undefined) await waitForStart(flags.startAt, output, flags.quiet, runSignals.stopped);
    if (hooks.barrier) await Promise.race([hooks.barrier(), runSignals.stopped]);
    monitor.start();
    keepaliveFrom = keepaliveWheel.snapshot();
    times = await engine.run();
  } catch (error) {
    // A run that fails (a misdeclared profile found by a device) must not be kept alive by its probe's socket or its log.
    await probe?.finish(0).catch(() => undefined);
    await requestLog?.close();
    throw error;
  } finally {
    progress?.end();
  }
  const generator = monitor.stop();
  const writeProblems: string[] = [];
  const logProblem = await requestLog?.close();
  if (logProblem) writeProblems.push(logProblem);

  const broker = await probe?.finish();
  const measured = resultsOf({ plan, engine, times, generator, stopReason, onlineAtStop, keepaliveFrom });
  const results = broker ? { ...measured, broker } : measured;
  writeProblems.push(...(await finishReporters(reporters, results)));
  if (hooks.finished) await hooks.finished(results);

  if (!flags.quiet) await reportFixtureCounts(environment, output);
  // With the results JSON on stdout, the summary for people goes to stderr.
  if (flags.json === '-') output.stderr(formatSummary(results));
  else output.stdout(formatSummary(results));
  for (const problem of writeProblems) output.stderr(`fleetsim: ${problem}`);
  if (writeProblems.length > 0) return EXIT.usage;
  // A signal after the run ended (while reports were written) still sets the code it documents.
  return runSignals.exitCode ?? runExitCode(results, stopReason, flags.exitCodeOnError);
}

/** `run --ui`: the UI's run, started at once; the flags that shape a run elsewhere do not apply to it. */
function runWithUi(given: RunCommandFlags, output: Output, signals: NodeJS.EventEmitter): Promise<number> {
  const refused = [
    ['shard', given.shard],
    ['metrics-port', given.metricsPort],
    ['start-at', given.startAt],
    ['exit-code-on-error', given.exitCodeOnError],
  ].find(([, value]) => value !== undefined);
  if (refused) throw new UsageError(`--${String(refused[0])}: not with --ui (the UI runs one process's fleet)`);
  if (given.brokerStats === true) throw new UsageError('--broker-stats: not with --ui');
  return uiCommand(given, output, signals, true);
}

/** What a shard runs, for its opening lines. */
function describeShard(shard: Shard, owned: number, plan: RunPlan): string {
  const rate = plan.stages || plan.spawnMode === 'all-at-once' ? '' : `, spawning at ${Math.round((plan.spawnRate / shard.count) * 1000) / 1000}/s`;
  const pool = plan.http.connectionPerDevice ? '' : `, an HTTP pool of ${plan.http.connections} of the fleet's connections`;
  return `  shard ${shard.index}/${shard.count}: ${owned} of the ${plan.devices} devices (global indices ≡ ${shard.index} mod ${shard.count})${rate}${pool}; the shape's device counts are the whole fleet's.`;
}

/** `--start-at`: waits (at most an hour, checked when parsed) so shards launched apart begin together. */
async function waitForStart(startAt: number, output: Output, quiet: boolean, stopped: Promise<void>): Promise<void> {
  const waitMs = startAt - Date.now();
  const when = new Date(startAt).toISOString();
  if (waitMs <= 0) {
    output.stderr(`fleetsim: warning: --start-at ${when} was ${(-waitMs / 1000).toFixed(1)} s ago: starting now, out of step with shards that started on time.`);
    return;
  }
  if (!quiet) output.stderr(`Waiting ${(waitMs / 1000).toFixed(1)} s for --start-at ${when}.`);
  let timer: NodeJS.Timeout | undefined;
  await Promise.race([new Promise((resolve) => (timer = setTimeout(resolve, waitMs))), stopped]);
  clearTimeout(timer);
}
