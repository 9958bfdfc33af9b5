import path from 'node:path';
import { Engine } from '../engine/engine.ts';
import type { StopReason } from '../engine/events.ts';
import { GeneratorMonitor } from '../metrics/generator-monitor.ts';
import { describeStages } from '../engine/stages.ts';
import { formatDuration } from '../profile/duration.ts';
import { loadRunPlan } from '../profile/load.ts';
import type { RunPlan } from '../profile/types.ts';
import { formatSummary } from '../report/console.ts';
import { csvReporter } from '../report/csv-report.ts';
import { htmlReporter } from '../report/html-report.ts';
import { jsonReporter } from '../report/json-report.ts';
import { PrometheusReporter } from '../report/prometheus.ts';
import { checkWritableFile } from '../report/output-path.ts';
import { ProgressReporter } from '../report/progress.ts';
import type { Reporter } from '../report/reporter.ts';
import { RequestLog } from '../report/request-log.ts';
import { startBrokerStats } from './broker-stats-flag.ts';
import { metricsEndpointFromFlags } from './metrics-flags.ts';
import { outputFile, overridesFromFlags } from './options.ts';
import type { FlagValue, RunFlags } from './options.ts';
import { checkConnections, EXIT, handleInterrupts, openEnvironment, reportFixtureCounts, resultsOf } from './run-environment.ts';
import type { Output, RunEnvironment } from './run-environment.ts';

export { EXIT } from './run-environment.ts';
export type { Output } from './run-environment.ts';

export interface RunCommandFlags extends RunFlags {
  readonly profile: string;
  readonly json?: FlagValue;
  readonly csv?: FlagValue;
  readonly html?: FlagValue;
  readonly logRequests?: FlagValue;
  readonly quiet?: boolean | undefined;
  readonly metricsPort?: FlagValue;
  readonly metricsHost?: FlagValue;
  readonly brokerStats?: boolean | undefined;
}

/** The flags `execute` works with: output files resolved to one name each. */
interface RunSettings {
  readonly json: string | undefined;
  readonly logRequests: string | undefined;
  readonly quiet: boolean;
  readonly brokerStats: boolean;
}

/** `fleetsim run`: returns the exit code; never calls process.exit itself. */
export async function runCommand(given: RunCommandFlags, output: Output, signals: NodeJS.EventEmitter = process): Promise<number> {
  const flags: RunSettings = { json: outputFile('json', given.json), logRequests: outputFile('log-requests', given.logRequests), quiet: given.quiet === true, brokerStats: given.brokerStats === true };
  const metrics = metricsEndpointFromFlags(given.metricsPort, given.metricsHost);
  const plan = await loadRunPlan(path.resolve(given.profile), overridesFromFlags(given));
  checkConnections(plan);
  const reporters: Reporter[] = [];
  if (flags.json) reporters.push(jsonReporter(flags.json));
  const csv = outputFile('csv', given.csv);
  if (csv) reporters.push(csvReporter(csv));
  const html = outputFile('html', given.html);
  if (html) reporters.push(htmlReporter(html));
  if (metrics) reporters.push(new PrometheusReporter(metrics, (line) => output.stderr(line)));
  for (const reporter of reporters) await reporter.prepare?.();
  if (flags.logRequests) await checkWritableFile('--log-requests', flags.logRequests);
  const requestLog = flags.logRequests ? new RequestLog(path.resolve(flags.logRequests)) : undefined;
  await requestLog?.opened();
  const environment = await openEnvironment(plan, output);
  try {
    return await execute(plan, environment, flags, output, signals, requestLog, reporters);
  } finally {
    for (const reporter of reporters) await reporter.close?.();
    await environment.fixtures?.close();
  }
}

async function execute(
  plan: RunPlan,
  environment: RunEnvironment,
  flags: RunSettings,
  output: Output,
  signals: NodeJS.EventEmitter,
  requestLog: RequestLog | undefined,
  reporters: readonly Reporter[],
): Promise<number> {
  const { endpoints } = environment;
  const monitor = new GeneratorMonitor();
  const engine = new Engine({ plan, target: endpoints.target, broker: endpoints.broker, generator: monitor });
  requestLog?.attach(engine);
  for (const reporter of reporters) reporter.attach?.(engine);

  const progress = flags.quiet ? undefined : new ProgressReporter(output, plan.durationMs);
  progress?.attach(engine);
  let stopReason = 'requested' as StopReason;
  let onlineAtStop = 0;
  engine.on('stopping', (reason) => {
    stopReason = reason;
    onlineAtStop = engine.online;
  });
  const stopHandlingInterrupts = handleInterrupts(engine, signals, output, flags.quiet);

  if (!flags.quiet) {
    const ending = plan.iterations !== undefined ? `${plan.iterations} iterations per device` : '';
    const duration = plan.durationMs !== undefined ? `${plan.durationMs / 1000}s` : '';
    const against = [endpoints.needsHttp ? endpoints.target : '', endpoints.broker ?? ''].filter(Boolean).join(' and ');
    const shape = plan.stages
      ? `${plan.stages.length} stage${plan.stages.length === 1 ? '' : 's'} up to ${plan.devices} devices`
      : `${plan.devices} devices ${plan.spawnMode === 'all-at-once' ? 'all at once' : `at ${plan.spawnRate}/s`}`;
    output.stderr(`Running ${plan.name}: ${shape} against ${against}, ${[duration, ending].filter(Boolean).join(' or ')}, seed ${plan.seed}.`);
    if (plan.stages) for (const line of describeStages(plan.stages, formatDuration)) output.stderr(`  ${line}`);
  }
  const probe = flags.brokerStats ? await startBrokerStats(endpoints.broker) : undefined;
  monitor.start();
  let times;
  try {
    times = await engine.run();
  } finally {
    progress?.end();
    stopHandlingInterrupts();
  }
  const generator = monitor.stop();
  const writeProblems: string[] = [];
  const logProblem = await requestLog?.close();
  if (logProblem) writeProblems.push(logProblem);

  const broker = await probe?.finish();
  const measured = resultsOf({ plan, engine, times, generator, stopReason, onlineAtStop });
  const results = broker ? { ...measured, broker } : measured;
  for (const reporter of reporters) {
    try {
      await reporter.finish?.(results);
    } catch (error) {
      writeProblems.push(`${reporter.flag}: ${error instanceof Error ? error.message : String(error)}`);
    }
  }

  if (!flags.quiet) await reportFixtureCounts(environment, output);
  output.stdout(formatSummary(results));
  for (const problem of writeProblems) output.stderr(`fleetsim: ${problem}`);
  if (writeProblems.length > 0) return EXIT.usage;
  if (stopReason === 'interrupted') return EXIT.interrupted;
  if (results.thresholds.some((threshold) => !threshold.ok)) return EXIT.thresholds;
  return EXIT.ok;
}
