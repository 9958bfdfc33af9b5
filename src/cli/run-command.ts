import path from 'node:path';
import { startFixtures } from '../../broker-fixture/index.ts';
import type { RunningFixtures } from '../../broker-fixture/index.ts';
import { Engine } from '../engine/engine.ts';
import { checkFileLimit, openFileLimit } from '../engine/fd-limit.ts';
import type { StopReason } from '../engine/events.ts';
import { evaluateThresholds } from '../metrics/evaluate-thresholds.ts';
import { GeneratorMonitor, saturationWarning } from '../metrics/generator-monitor.ts';
import { nagleWarning } from '../metrics/nagle.ts';
import { buildResults } from '../metrics/results.ts';
import type { Results } from '../metrics/results.ts';
import { loadRunPlan } from '../profile/load.ts';
import type { DeviceModel, RunPlan } from '../profile/types.ts';
import { formatSummary } from '../report/console.ts';
import { jsonReporter } from '../report/json-report.ts';
import { PrometheusReporter } from '../report/prometheus.ts';
import { checkWritableFile } from '../report/output-path.ts';
import { ProgressReporter } from '../report/progress.ts';
import type { ProgressSink } from '../report/progress.ts';
import type { Reporter } from '../report/reporter.ts';
import { RequestLog } from '../report/request-log.ts';
import { toolVersion } from '../version.ts';
import { metricsEndpointFromFlags } from './metrics-flags.ts';
import { outputFile, overridesFromFlags } from './options.ts';
import type { FlagValue, RunFlags } from './options.ts';

export interface RunCommandFlags extends RunFlags {
  readonly profile: string;
  readonly json?: FlagValue;
  readonly logRequests?: FlagValue;
  readonly quiet?: boolean | undefined;
  readonly metricsPort?: FlagValue;
  readonly metricsHost?: FlagValue;
}

/** The flags `execute` works with: output files resolved to one name each. */
interface RunSettings {
  readonly json: string | undefined;
  readonly logRequests: string | undefined;
  readonly quiet: boolean;
}

export interface Output extends ProgressSink {
  stdout(text: string): void;
  stderr(text: string): void;
}

export const EXIT = { ok: 0, internal: 1, usage: 2, thresholds: 99, interrupted: 130 } as const;

/** `fleetsim run`: returns the exit code; never calls process.exit itself. */
export async function runCommand(given: RunCommandFlags, output: Output, signals: NodeJS.EventEmitter = process): Promise<number> {
  const flags: RunSettings = { json: outputFile('json', given.json), logRequests: outputFile('log-requests', given.logRequests), quiet: given.quiet === true };
  const metrics = metricsEndpointFromFlags(given.metricsPort, given.metricsHost);
  const plan = await loadRunPlan(path.resolve(given.profile), overridesFromFlags(given));
  const http = plan.http;
  const sessions = plan.fleet.reduce((sum, entry) => sum + (entry.model.mqtt ? entry.count : 0), 0);
  const needsHttp = plan.fleet.some((entry) => entry.count > 0 && modelUsesHttp(entry.model));
  const httpConnections = !needsHttp ? 0 : http.connectionPerDevice ? plan.devices : Math.min(http.connections, plan.devices);
  const uses = [
    sessions > 0 ? `one MQTT connection per device for ${sessions} devices` : '',
    httpConnections === 0 ? '' : http.connectionPerDevice ? `one HTTP connection per device for ${plan.devices} devices` : `an HTTP pool of up to ${http.connections} connections`,
  ];
  checkFileLimit(sessions + httpConnections, uses.filter(Boolean).join(' and ') || 'no connections', openFileLimit());
  const reporters: Reporter[] = [];
  if (flags.json) reporters.push(jsonReporter(flags.json));
  if (metrics) reporters.push(new PrometheusReporter(metrics, (line) => output.stderr(line)));
  for (const reporter of reporters) await reporter.prepare?.();
  if (flags.logRequests) await checkWritableFile('--log-requests', flags.logRequests);
  const requestLog = flags.logRequests ? new RequestLog(path.resolve(flags.logRequests)) : undefined;
  await requestLog?.opened();
  const embeddedHttp = plan.target === undefined && needsHttp;
  const embeddedBroker = plan.broker === undefined && sessions > 0;
  let fixtures: RunningFixtures | undefined;
  if (embeddedHttp || embeddedBroker) {
    fixtures = await startFixtures();
    const missing = [embeddedHttp ? 'target' : '', embeddedBroker ? 'broker' : ''].filter(Boolean).join(' or ');
    const started = [embeddedHttp ? `the embedded HTTP fixture at ${fixtures.httpUrl}` : '', embeddedBroker ? `the embedded MQTT broker (Aedes) at ${fixtures.brokerUrl}` : ''];
    output.stderr(`No ${missing} in the profile or flags: started ${started.filter(Boolean).join(' and ')} (worker thread).`);
  }
  const endpoints: Endpoints = {
    // A fleet without HTTP steps never sends to the target; the engine still needs an origin to hold.
    target: plan.target ?? fixtures?.httpUrl ?? 'http://127.0.0.1',
    broker: plan.broker ?? (embeddedBroker ? fixtures?.brokerUrl : undefined),
    needsHttp,
    embeddedHttp,
    embeddedBroker,
  };
  try {
    return await execute(plan, endpoints, flags, output, signals, requestLog, reporters, fixtures);
  } finally {
    for (const reporter of reporters) await reporter.close?.();
    await fixtures?.close();
  }
}

interface Endpoints {
  readonly target: string;
  readonly broker: string | undefined;
  readonly needsHttp: boolean;
  /** What the embedded fixtures stand in for, so their counts are shown. */
  readonly embeddedHttp: boolean;
  readonly embeddedBroker: boolean;
}

function modelUsesHttp(model: DeviceModel): boolean {
  const tasks = [...model.boot, ...model.tasks, ...model.reactions.map((reaction) => reaction.task)];
  return tasks.some((task) => task.steps.some((step) => step.action.kind === 'http'));
}

async function execute(
  plan: RunPlan,
  endpoints: Endpoints,
  flags: RunSettings,
  output: Output,
  signals: NodeJS.EventEmitter,
  requestLog: RequestLog | undefined,
  reporters: readonly Reporter[],
  fixtures: RunningFixtures | undefined,
): Promise<number> {
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
    if (reason === 'interrupted' && !flags.quiet) output.stderr('Interrupted: draining in-flight requests, then writing reports (Ctrl-C again to abandon them).');
  });
  // First Ctrl-C drains, the second abandons what is in flight; reports are written either way.
  // Only a third leaves at once, for a run wedged somewhere we did not foresee.
  let interrupts = 0;
  const onInterrupt = (): void => {
    interrupts++;
    if (interrupts === 1) engine.stop('interrupted');
    else if (interrupts === 2) {
      if (!flags.quiet) output.stderr('Abandoning in-flight requests; writing reports (Ctrl-C again to quit without them).');
      engine.abandonDrain();
    } else process.exit(EXIT.interrupted);
  };
  signals.on('SIGINT', onInterrupt);
  signals.on('SIGTERM', onInterrupt);

  if (!flags.quiet) {
    const ending = plan.iterations !== undefined ? `${plan.iterations} iterations per device` : '';
    const duration = plan.durationMs !== undefined ? `${plan.durationMs / 1000}s` : '';
    const against = [endpoints.needsHttp ? endpoints.target : '', endpoints.broker ?? ''].filter(Boolean).join(' and ');
    output.stderr(`Running ${plan.name}: ${plan.devices} devices at ${plan.spawnRate}/s against ${against}, ${[duration, ending].filter(Boolean).join(' or ')}, seed ${plan.seed}.`);
  }
  monitor.start();
  let times;
  try {
    times = await engine.run();
  } finally {
    progress?.end();
    signals.off('SIGINT', onInterrupt);
    signals.off('SIGTERM', onInterrupt);
  }
  const generator = monitor.stop();
  const writeProblems: string[] = [];
  const logProblem = await requestLog?.close();
  if (logProblem) writeProblems.push(logProblem);

  const warnings: string[] = [];
  const saturated = saturationWarning(generator);
  if (saturated) warnings.push(saturated);
  const partial = buildResults({
    version: toolVersion(),
    seed: plan.seed,
    profilePath: plan.profilePath,
    profileSha256: plan.profileSha256,
    startedAt: times.startedAt,
    endedAt: times.endedAt,
    activeMs: times.activeMs,
    stopReason,
    abandoned: engine.abandoned,
    devices: {
      target: plan.devices,
      started: engine.started,
      online: onlineAtStop,
      onlineOverTime: engine.stats.history.points.map((point) => [point.atS, point.devicesOnline] as const),
    },
    entries: engine.stats.entries,
    history: engine.stats.history.points,
    saturation: engine.stats.saturation,
    generator,
    warnings,
  });
  // The Nagle signature is read off the finished rows, so its warning joins them afterwards.
  const nagle = nagleWarning(partial.stats, generator);
  const downlink = plan.fleet.some((entry) => entry.model.mqtt !== undefined) ? { downlink: { ...engine.downlink } } : {};
  const results: Results = {
    ...partial,
    ...downlink,
    warnings: nagle ? [...partial.warnings, nagle] : partial.warnings,
    thresholds: evaluateThresholds(partial, plan.thresholds),
  };
  for (const reporter of reporters) {
    try {
      await reporter.finish?.(results);
    } catch (error) {
      writeProblems.push(`${reporter.flag}: ${error instanceof Error ? error.message : String(error)}`);
    }
  }

  if (fixtures && !flags.quiet) {
    if (endpoints.embeddedHttp) {
      const served = Object.entries(await fixtures.counts()).map(([route, count]) => `${route} ${count.requests}`).join(', ');
      output.stderr(`The embedded fixture counted: ${served || 'no requests'}.`);
    }
    if (endpoints.embeddedBroker) {
      const mqtt = await fixtures.mqttCounts();
      const topics = Object.entries(mqtt.topics).map(([topic, count]) => `${topic} ${count}`).join(', ');
      output.stderr(`The embedded broker counted: ${mqtt.connects} connects, ${mqtt.publishesReceived} publishes received${topics ? ` (${topics})` : ''}.`);
    }
  }
  output.stdout(formatSummary(results));
  for (const problem of writeProblems) output.stderr(`fleetsim: ${problem}`);
  if (writeProblems.length > 0) return EXIT.usage;
  if (stopReason === 'interrupted') return EXIT.interrupted;
  if (results.thresholds.some((threshold) => !threshold.ok)) return EXIT.thresholds;
  return EXIT.ok;
}
