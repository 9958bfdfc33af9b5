import path from 'node:path';
import { CapacitySearch } from '../capacity/search.ts';
import type { CapacityResult } from '../capacity/search.ts';
import { Engine } from '../engine/engine.ts';
import type { StopReason } from '../engine/events.ts';
import { GeneratorMonitor } from '../metrics/generator-monitor.ts';
import type { Results } from '../metrics/results.ts';
import { MAX_DURATION_MS } from '../profile/duration.ts';
import { loadRunPlan } from '../run/load-plan.ts';
import { writeReportFile } from '../report/atomic-write.ts';
import { capacityVerdict, formatCapacity, formatStep } from '../report/capacity-console.ts';
import { htmlReport, loadPageAssets } from '../report/html-report.ts';
import { jsonReporter } from '../report/json-report.ts';
import { checkWritableFile } from '../report/output-path.ts';
import type { Reporter } from '../report/reporter.ts';
import { capacitySettings, stepPlan } from './capacity-options.ts';
import { attemptWrites, closeReporters, prepareReporters } from '../run/report-files.ts';
import type { CapacityFlags } from './capacity-options.ts';
import { outputFile, overridesFromFlags } from '../run/overrides.ts';
import type { FlagValue, RunFlags } from '../run/overrides.ts';
import { checkConnections, EXIT, handleInterrupts, signalExit, openEnvironment, reportFixtureCounts, resultsOf } from '../run/run-environment.ts';
import type { Output } from '../run/run-environment.ts';
import { CapacityUi } from '../ui/capacity-ui.ts';
import type { UiServer } from '../ui/ui-server.ts';
import { startUiServer, uiEndpointFromFlags, watchSignals } from './ui-command.ts';
import type { UiFlags } from './ui-command.ts';

export interface CapacityCommandFlags extends RunFlags, CapacityFlags, UiFlags {
  readonly profile: string;
  readonly ui?: boolean | undefined;
  readonly json?: FlagValue;
  readonly results?: FlagValue;
  readonly html?: FlagValue;
  readonly quiet?: boolean | undefined;
}

/** `fleetsim.capacity/v1` with the run it came from. */
export interface CapacityReport extends CapacityResult {
  readonly run: {
    readonly seed: string;
    readonly profile: { readonly path: string; readonly sha256: string };
    readonly startedAt: string;
    readonly endedAt: string;
    readonly durationS: number;
    readonly target: string | undefined;
    readonly broker: string | undefined;
    readonly generator: Results['generator'];
  };
}

/** `--json FILE` of a capacity search. */
function capacityReporter(file: string): { reporter: Reporter; write(report: CapacityReport): Promise<void> } {
  return {
    reporter: { flag: '--json', prepare: () => checkWritableFile('--json', file) },
    write: (report) => writeReportFile(file, `${JSON.stringify(report, null, 2)}\n`),
  };
}

/**
 * `fleetsim capacity`: steps one fleet up without restarting it until an SLO breaks on a step's own
 * window, and reports the largest passing step and whose limit stopped the search.
 */
export async function capacityCommand(given: CapacityCommandFlags, output: Output, signals: NodeJS.EventEmitter = process): Promise<number> {
  const settings = capacitySettings(given);
  const quiet = given.quiet === true;
  const jsonFile = outputFile('json', given.json);
  const resultsFile = outputFile('results', given.results);
  const htmlFile = outputFile('html', given.html);
  const overrides = overridesFromFlags(given);
  if (given.ui === true) uiEndpointFromFlags(given);
  const plan = await loadRunPlan(path.resolve(given.profile), {
    ...overrides,
    ...(settings.maxDevices === undefined ? {} : { devices: settings.maxDevices }),
    // The search ends the run itself; the longest a timer can wait only bounds a wedged one.
    durationMs: MAX_DURATION_MS,
  });
  checkConnections(plan);
  const capacityJson = jsonFile ? capacityReporter(jsonFile) : undefined;
  const reporters: Reporter[] = [];
  if (resultsFile) reporters.push({ ...jsonReporter(resultsFile), flag: '--results' });
  await capacityJson?.reporter.prepare?.();
  if (htmlFile) await checkWritableFile('--html', htmlFile);
  await prepareReporters(reporters);
  const environment = await openEnvironment(plan, output);
  let server: UiServer | undefined;
  try {
    const { endpoints } = environment;
    const monitor = new GeneratorMonitor();
    const engine = new Engine({ plan, target: endpoints.target, broker: endpoints.broker, generator: monitor, steered: true });
    for (const reporter of reporters) reporter.attach?.(engine);
    let stopReason = 'requested' as StopReason;
    let onlineAtStop = 0;
    engine.on('stopping', (reason) => {
      stopReason = reason;
      onlineAtStop = engine.online;
    });
    const stopHandlingInterrupts = handleInterrupts(engine, signals, output, quiet);
    const search = new CapacitySearch(engine, {
      slos: settings.slos,
      plan: stepPlan(settings, plan.devices),
      stepIntervals: settings.stepMs / 1000,
      settleIntervals: settings.settleMs / 1000,
      spawnRate: plan.spawnRate,
      refine: settings.refine,
      minDelivered: plan.minDelivered,
      repeat: settings.repeat,
    });
    if (!quiet) {
      const against = [endpoints.needsHttp ? endpoints.target : '', endpoints.broker ?? ''].filter(Boolean).join(' and ');
      output.stderr(
        `Capacity search on ${plan.name} against ${against}: from ${stepPlan(settings, plan.devices).start} devices up to ${plan.devices}, ${settings.stepMs / 1000}s per step after ${settings.settleMs / 1000}s to settle, devices started at ${plan.spawnRate}/s, seed ${plan.seed}.`,
      );
      search.on('stepStarted', (devices, refined) => output.stderr(`${refined ? 'refining' : 'stepping'} to ${devices} devices`));
      search.on('step', (step) => output.stderr(formatStep(step)));
    }
    await engine.prepare();
    const ui = given.ui === true ? new CapacityUi(engine, plan, search) : undefined;
    if (ui) server = await startUiServer(ui, given, output);
    monitor.start();
    const running = engine.run();
    let result: CapacityResult;
    let times;
    try {
      result = await search.search();
      engine.stop('requested');
      times = await running;
    } finally {
      stopHandlingInterrupts();
    }
    const generator = monitor.stop();
    const results = resultsOf({ plan, engine, times, generator, stopReason, onlineAtStop });
    const report: CapacityReport = {
      ...result,
      run: {
        seed: plan.seed,
        profile: results.profile,
        startedAt: results.startedAt,
        endedAt: results.endedAt,
        durationS: results.durationS,
        target: endpoints.needsHttp ? endpoints.target : undefined,
        broker: endpoints.broker,
        generator,
      },
    };
    const writes: [string, () => Promise<void>][] = [
      ...(capacityJson ? [['--json', () => capacityJson.write(report)] as [string, () => Promise<void>]] : []),
      ...(htmlFile
        ? [
            ['--html', async () => writeReportFile(htmlFile, htmlReport({ results, capacity: { steps: result.steps, verdict: capacityVerdict(result) } }, await loadPageAssets()))] as [
              string,
              () => Promise<void>,
            ],
          ]
        : []),
      ...reporters.map((reporter) => [reporter.flag, () => reporter.finish?.(results) ?? Promise.resolve()] as [string, () => Promise<void>]),
    ];
    const problems = await attemptWrites(writes);
    if (!quiet) await reportFixtureCounts(environment, output);
    output.stdout(formatCapacity(result));
    for (const problem of problems) output.stderr(`fleetsim: ${problem}`);
    const exitCode = problems.length > 0 ? EXIT.usage : (signalExit(stopReason) ?? EXIT.ok);
    if (ui) {
      ui.finish(results, result, exitCode);
      // Interrupted, it quits now; finished, the page stays up for its downloads until Ctrl-C.
      if (signalExit(stopReason) === undefined) await quitSignal(signals, output, quiet);
    }
    return exitCode;
  } finally {
    await server?.close();
    await closeReporters(reporters);
    await environment.fixtures?.close();
  }
}

/** Resolves at Ctrl-C or SIGTERM, when nothing is left running. */
async function quitSignal(signals: NodeJS.EventEmitter, output: Output, quiet: boolean): Promise<void> {
  const watch = watchSignals(signals, { interrupt: () => false, abandon: () => undefined }, output, quiet);
  try {
    await watch.first;
  } finally {
    watch.dispose();
  }
}
