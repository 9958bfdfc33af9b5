import path from 'node:path';
import { keepaliveWheel } from '../transport/mqtt/keepalive-wheel.ts';
import { closeReporters, finishReporters, prepareReporters } from './report-files.ts';
import { checkConnections, openEnvironment, reportFixtureCounts, resultsOf } from './run-environment.ts';
import type { Output } from './run-environment.ts';
import { Engine } from '../engine/engine.ts';
import type { StopReason } from '../engine/events.ts';
import { FleetsimError, UsageError } from '../errors.ts';
import { GeneratorMonitor } from '../metrics/generator-monitor.ts';
import type { Results } from '../metrics/results.ts';
import { loadRunPlan } from './load-plan.ts';
import type { RunOverrides } from '../profile/load.ts';
import type { RunPlan } from '../profile/types.ts';
import { csvReporter } from '../report/csv-report.ts';
import { htmlReporter } from '../report/html-report.ts';
import { jsonReporter } from '../report/json-report.ts';
import type { Reporter } from '../report/reporter.ts';

/** How `runPlan` runs a plan beyond what the plan itself says. */
export interface RunPlanOptions {
  /** Writes the results JSON here, as `--json FILE` does (atomically). */
  readonly json?: string;
  /** Writes Locust's three CSV files with this prefix, as `--csv PREFIX` does. */
  readonly csv?: string;
  /** Writes the self-contained HTML report here, as `--html FILE` does. */
  readonly html?: string;
  /** Aborting stops the run as Ctrl-C does: in-flight attempts drain, then the results are returned. */
  readonly signal?: AbortSignal;
  /** Called with the engine before it starts, to follow its events (`attempt`, `interval`, `stopping`, ...). */
  readonly onEngine?: (engine: Engine) => void;
  /** Receives the lines the CLI prints to stderr (the embedded fixtures started, what they counted); silent without it. */
  readonly log?: (line: string) => void;
}

/** `runProfile`'s options: the command line's overrides (`devices`, `durationMs`, `target`, ...) and `runPlan`'s. */
export type RunProfileOptions = RunOverrides & RunPlanOptions;

/** A run finished and its results were made, but a report file could not be written: `results` has them all the same. */
export class ReportWriteError extends FleetsimError {
  readonly results: Results;
  readonly problems: readonly string[];
  constructor(problems: readonly string[], results: Results) {
    super('FLEETSIM_REPORT_WRITE', `cannot write the reports: ${problems.join('; ')}`);
    this.name = 'ReportWriteError';
    this.problems = problems;
    this.results = results;
  }
}

function reportersFor(options: RunPlanOptions): Reporter[] {
  const reporters: Reporter[] = [];
  const files = [
    ['json', options.json, jsonReporter],
    ['csv', options.csv, csvReporter],
    ['html', options.html, htmlReporter],
  ] as const;
  for (const [name, file, make] of files) {
    if (file === undefined) continue;
    // '-' means stdout on the command line; a library has no business writing there.
    if (typeof file !== 'string' || file === '' || file === '-') throw new UsageError(`runPlan: options.${name}: expected a file name, got ${JSON.stringify(file)}`);
    reporters.push(make(path.resolve(file)));
  }
  return reporters;
}

/**
 * Runs a loaded plan to its end (its duration, iterations or stages) and returns the results that
 * `--json` writes. With no target or broker in the plan, the embedded fixtures are started for the
 * run and closed after it. Thresholds are judged into `results.thresholds`; a failed one does not
 * throw. Throws a FleetsimError for what the user can fix (too many sockets for the open-file
 * limit, a report file that cannot be written).
 */
export async function runPlan(plan: RunPlan, options: RunPlanOptions = {}): Promise<Results> {
  const log = options.log ?? ((): void => undefined);
  const output: Output = { stdout: log, stderr: log };
  checkConnections(plan);
  const reporters = reportersFor(options);
  await prepareReporters(reporters);
  const environment = await openEnvironment(plan, output);
  try {
    const { endpoints } = environment;
    const monitor = new GeneratorMonitor();
    const engine = new Engine({ plan, target: endpoints.target, broker: endpoints.broker, generator: monitor });
    for (const reporter of reporters) reporter.attach?.(engine);
    let stopReason: StopReason = 'requested';
    let onlineAtStop = 0;
    engine.on('stopping', (reason) => {
      stopReason = reason;
      onlineAtStop = engine.online;
    });
    options.onEngine?.(engine);
    const onAbort = (): void => engine.stop('requested');
    await engine.prepare();
    monitor.start();
    const keepaliveFrom = keepaliveWheel.snapshot();
    options.signal?.addEventListener('abort', onAbort, { once: true });
    let times;
    try {
      const running = engine.run();
      if (options.signal?.aborted === true) onAbort();
      times = await running;
    } finally {
      options.signal?.removeEventListener('abort', onAbort);
    }
    const generator = monitor.stop();
    const results = resultsOf({ plan, engine, times, generator, stopReason, onlineAtStop, keepaliveFrom });
    const problems = await finishReporters(reporters, results);
    await reportFixtureCounts(environment, output);
    if (problems.length > 0) throw new ReportWriteError(problems, results);
    return results;
  } finally {
    await closeReporters(reporters);
    await environment.fixtures?.close();
  }
}

/** Loads a profile with the given overrides (`devices`, `durationMs`, `target`, ...) and runs it: `runPlan(await loadRunPlan(file, overrides), options)`. */
export async function runProfile(profilePath: string, options: RunProfileOptions = {}): Promise<Results> {
  const { json, csv, html, signal, onEngine, log, ...overrides } = options;
  const runOptions = { json, csv, html, signal, onEngine, log };
  const defined = Object.fromEntries(Object.entries(runOptions).filter(([, value]) => value !== undefined)) as RunPlanOptions;
  return runPlan(await loadRunPlan(path.resolve(profilePath), overrides), defined);
}
