import { startFixtures } from '../../broker-fixture/index.ts';
import type { RunningFixtures } from '../../broker-fixture/index.ts';
import type { Engine, RunTimes } from '../engine/engine.ts';
import { checkFileLimit, openFileLimit } from '../engine/fleet/fd-limit.ts';
import { ownedByEntry } from '../engine/fleet/fleet-layout.ts';
import { modelUsesHttp, planUsesHttp } from '../engine/device/http-warm-start.ts';
import { WHOLE_RUN } from '../engine/fleet/shard.ts';
import type { StopReason } from '../engine/events.ts';
import { judgedThresholds } from '../metrics/evaluate-thresholds.ts';
import { saturationWarning } from '../metrics/generator-monitor.ts';
import { inconclusiveCause } from '../metrics/load-verdict.ts';
import type { GeneratorHealth } from '../metrics/generator-monitor.ts';
import { nagleWarning } from '../metrics/nagle.ts';
import { poolQueueWarning } from '../metrics/pool-queue.ts';
import { buildResults } from '../metrics/results.ts';
import { summarizeNodes } from '../metrics/sparkplug.ts';
import { summarizeCommands } from '../metrics/commands.ts';
import type { Results } from '../metrics/results.ts';
import type { RunPlan } from '../profile/types.ts';
import type { ProgressSink } from '../report/progress.ts';
import { toolVersion } from '../util/version.ts';
import { keepaliveWheel } from '../transport/mqtt/keepalive-wheel.ts';
import type { KeepaliveCounts } from '../transport/mqtt/keepalive-wheel.ts';

export interface Output extends ProgressSink {
  stdout(text: string): void;
  stderr(text: string): void;
}

/**
 * `thresholds` (99) is also a run whose target could not take the offered load; `inconclusive` (98)
 * a run that could not deliver its load for a reason of fleetsim's or the machine's, so its
 * thresholds say nothing sure about the target.
 */
export const EXIT = { ok: 0, internal: 1, usage: 2, inconclusive: 98, thresholds: 99, interrupted: 130, terminated: 143 } as const;

/** The exit code of a run that ended for `reason`, when nothing else (a failed write) decides it. */
export function signalExit(reason: StopReason): number | undefined {
  if (reason === 'interrupted') return EXIT.interrupted;
  if (reason === 'terminated') return EXIT.terminated;
  return undefined;
}

/** A finished run's exit code once its reports are written: a signal's, a failed threshold's, or `--exit-code-on-error`'s. */
export function runExitCode(results: Results, reason: StopReason, exitCodeOnError: number | undefined): number {
  const signalled = signalExit(reason);
  if (signalled !== undefined) return signalled;
  const cause = results.load?.cause ?? 'delivered';
  if (inconclusiveCause(cause)) return EXIT.inconclusive;
  if (results.thresholds.some((threshold) => !threshold.ok)) return EXIT.thresholds;
  if (cause === 'target') return EXIT.thresholds;
  if (exitCodeOnError !== undefined && results.total.failures > 0) return exitCodeOnError;
  return EXIT.ok;
}

export interface Endpoints {
  readonly target: string;
  readonly broker: string | undefined;
  readonly needsHttp: boolean;
  /** What the embedded fixtures stand in for, so their counts are shown. */
  readonly embeddedHttp: boolean;
  readonly embeddedBroker: boolean;
}

/** Where a run sends its load, with the embedded fixtures it started in place of a missing target or broker. */
export interface RunEnvironment {
  readonly endpoints: Endpoints;
  readonly fixtures: RunningFixtures | undefined;
}

/** Refuses a run that would open more sockets than the process may (exit 2, naming the limit). */
export function checkConnections(plan: RunPlan): void {
  const http = plan.http;
  // A shard holds only its own devices' sockets: that is what sharding is for.
  const owned = ownedByEntry(plan.fleet, plan.shard ?? WHOLE_RUN);
  const devices = owned.reduce((sum, count) => sum + count, 0);
  const sessions = plan.fleet.reduce((sum, entry, i) => sum + (entry.model.mqtt ? (owned[i] ?? 0) : 0), 0);
  const needsHttp = planUsesHttp(plan);
  const httpConnections = !needsHttp ? 0 : http.connectionPerDevice ? devices : Math.min(http.connections, devices);
  const uses = [
    sessions > 0 ? `one MQTT connection per device for ${sessions} devices` : '',
    httpConnections === 0 ? '' : http.connectionPerDevice ? `one HTTP connection per device for ${devices} devices` : `an HTTP pool of up to ${http.connections} connections`,
  ];
  checkFileLimit(sessions + httpConnections, uses.filter(Boolean).join(' and ') || 'no connections', openFileLimit());
}

function mqttSessions(plan: RunPlan): number {
  return plan.fleet.reduce((sum, entry) => sum + (entry.model.mqtt ? entry.count : 0), 0);
}

/** Resolves the target and broker, starting the embedded fixtures (off the main loop) for what the profile and flags leave out. */
export async function openEnvironment(plan: RunPlan, output: Output): Promise<RunEnvironment> {
  const needsHttp = planUsesHttp(plan);
  const embeddedHttp = plan.target === undefined && needsHttp;
  const embeddedBroker = plan.broker === undefined && mqttSessions(plan) > 0;
  let fixtures: RunningFixtures | undefined;
  if (embeddedHttp || embeddedBroker) {
    fixtures = await startFixtures();
    const missing = [embeddedHttp ? 'target' : '', embeddedBroker ? 'broker' : ''].filter(Boolean).join(' or ');
    const started = [embeddedHttp ? `the embedded HTTP fixture at ${fixtures.httpUrl}` : '', embeddedBroker ? `the embedded MQTT broker (Aedes) at ${fixtures.brokerUrl}` : ''];
    output.stderr(`No ${missing} in the profile or flags: started ${started.filter(Boolean).join(' and ')} (worker thread).`);
  }
  return {
    endpoints: {
      // A fleet without HTTP steps never sends to the target; the engine still needs an origin to hold.
      target: plan.target ?? fixtures?.httpUrl ?? 'http://127.0.0.1',
      broker: plan.broker ?? (embeddedBroker ? fixtures?.brokerUrl : undefined),
      needsHttp,
      embeddedHttp,
      embeddedBroker,
    },
    fixtures,
  };
}

/** Prints what the embedded fixtures themselves counted, beside fleetsim's own numbers. */
export async function reportFixtureCounts(environment: RunEnvironment, output: Output): Promise<void> {
  const { fixtures, endpoints } = environment;
  if (!fixtures) return;
  if (endpoints.embeddedHttp) {
    const served = Object.entries(await fixtures.counts())
      .map(([route, count]) => `${route} ${count.requests}`)
      .join(', ');
    output.stderr(`The embedded fixture counted: ${served || 'no requests'}.`);
  }
  if (endpoints.embeddedBroker) {
    const mqtt = await fixtures.mqttCounts();
    const topics = Object.entries(mqtt.topics)
      .map(([topic, count]) => `${topic} ${count}`)
      .join(', ');
    output.stderr(`The embedded broker counted: ${mqtt.connects} connects, ${mqtt.publishesReceived} publishes received${topics ? ` (${topics})` : ''}.`);
  }
}

/** How each stopping signal is named to the user, and what sending it again is called. */
const SIGNAL_WORDS = {
  interrupted: { stopped: 'Interrupted', again: 'Ctrl-C again' },
  terminated: { stopped: 'Terminated (SIGTERM)', again: 'another SIGTERM or Ctrl-C' },
} as const;

/**
 * The first Ctrl-C (SIGINT) or SIGTERM drains, the second of either abandons what is in flight;
 * reports are written either way, and the exit code is the first signal's (130 or 143). Only a third
 * leaves at once, for a run wedged somewhere we did not foresee. SIGHUP (a closed terminal) is
 * ignored: the run goes on and writes its reports, where Node's default would end it unreported.
 * Returns the function that stops listening.
 */
export function handleInterrupts(engine: Engine, signals: NodeJS.EventEmitter, output: Output, quiet: boolean): () => void {
  let interrupts = 0;
  let first: keyof typeof SIGNAL_WORDS = 'interrupted';
  const onSignal = (reason: keyof typeof SIGNAL_WORDS): void => {
    interrupts++;
    if (interrupts === 1) {
      first = reason;
      engine.stop(reason);
    } else if (interrupts === 2) {
      if (!quiet) output.stderr(`Abandoning in-flight requests; writing reports (${SIGNAL_WORDS[first].again} to quit without them).`);
      engine.abandonDrain();
    } else process.exit(first === 'terminated' ? EXIT.terminated : EXIT.interrupted);
  };
  const onInterrupt = (): void => onSignal('interrupted');
  const onTerminate = (): void => onSignal('terminated');
  const onHangUp = (): void => undefined;
  engine.on('stopping', (reason) => {
    if ((reason === 'interrupted' || reason === 'terminated') && !quiet) {
      const words = SIGNAL_WORDS[reason];
      output.stderr(`${words.stopped}: draining in-flight requests, then writing reports (${words.again} to abandon them).`);
    }
  });
  signals.on('SIGINT', onInterrupt);
  signals.on('SIGTERM', onTerminate);
  signals.on('SIGHUP', onHangUp);
  return () => {
    signals.off('SIGINT', onInterrupt);
    signals.off('SIGTERM', onTerminate);
    signals.off('SIGHUP', onHangUp);
  };
}

export interface FinishedRun {
  readonly plan: RunPlan;
  readonly engine: Engine;
  readonly times: RunTimes;
  readonly generator: GeneratorHealth;
  readonly stopReason: StopReason;
  readonly onlineAtStop: number;
  /** The process's keepalive counts when the run started: the run's share is what came after. */
  readonly keepaliveFrom?: KeepaliveCounts | undefined;
}

/** The results of a finished run: rows, history, warnings, and the thresholds judged. */
const SHARDED_DELIVERY =
  "delivery counts (expected, lost, duplicates) cover only this shard's publishers and subscribers: a message from another shard's publisher counts as received but never as expected. The DELIVER rows' latencies merge exactly.";

export function resultsOf(run: FinishedRun): Results {
  const { plan, engine, times, generator } = run;
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
    stopReason: run.stopReason,
    abandoned: engine.abandoned,
    abandonCause: engine.abandonCause,
    shard: engine.shard,
    devices: {
      // A shard's target is its own part of the fleet, so the shards' targets add up to the fleet.
      target: engine.ownedDevices,
      started: engine.started,
      online: run.onlineAtStop,
      onlineOverTime: engine.stats.history.points.map((point) => [point.atS, point.devicesOnline] as const),
      timeToAllOnlineMs: engine.timeToAllOnlineMs === undefined ? null : Math.round(engine.timeToAllOnlineMs),
    },
    entries: engine.stats.entries,
    history: engine.stats.history.points,
    saturation: engine.stats.saturation,
    generator,
    warnings,
    minDelivered: plan.minDelivered,
    loadNoise: engine.stats.loadNoise,
    loadTally: engine.stats.loadTally,
    closedModels: engine.stats.closedModels,
    plannedDurationMs: run.stopReason === 'duration' ? plan.durationMs : undefined,
  });
  // The Nagle signature is read off the finished rows, so its warning joins them afterwards.
  const nagle = nagleWarning(partial.stats, generator);
  const httpDevices = plan.fleet.reduce((sum, entry) => sum + (modelUsesHttp(entry.model) ? entry.count : 0), 0);
  const pool = plan.http.connectionPerDevice ? undefined : poolQueueWarning(partial.types, plan.http.connections, httpDevices);
  const counts = engine.downlink;
  const reactionFailures = [...counts.reactionFailures].map(([reason, count]) => ({ reason, count })).sort((a, b) => b.count - a.count);
  const { received, reactionsQueued, reactionsDropped, reactionsFailed } = counts;
  const downlink = plan.fleet.some((entry) => entry.model.mqtt !== undefined) ? { downlink: { received, reactionsQueued, reactionsDropped, reactionsFailed, reactionFailures } } : {};
  return {
    ...partial,
    ...downlink,
    ...(engine.lifecycle.any ? { lifecycle: { ...engine.lifecycle.counts, planned: { ...engine.lifecycle.counts.planned } } } : {}),
    ...(engine.delivery ? { delivery: engine.delivery.summary() } : {}),
    ...(run.keepaliveFrom && mqttSessions(plan) > 0 ? { keepalive: keepaliveWheel.since(run.keepaliveFrom) } : {}),
    ...(plan.fleet.some((entry) => entry.model.sparkplug !== undefined) ? { sparkplug: engine.sparkplug?.summary() ?? summarizeNodes([]) } : {}),
    ...(engine.commands ? { commands: summarizeCommands(engine.stats.entries, engine.commands.lost(), engine.commands.unmatchedReplies) } : {}),
    warnings: [...partial.warnings, ...(nagle ? [nagle] : []), ...(pool ? [pool] : []), ...(engine.delivery && engine.shard.count > 1 ? [SHARDED_DELIVERY] : []), ...loadWarnings(partial)],
    thresholds: judgedThresholds(partial, plan.thresholds),
  };
}

function loadWarnings(results: Omit<Results, 'thresholds'>): string[] {
  const warnings: string[] = [];
  if (results.overran) warnings.push(`the run overran: it ended ${results.overran.byS} s past its planned ${results.overran.plannedS} s (fleetsim's timers ran late)`);
  return warnings;
}
