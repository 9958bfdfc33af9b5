import path from 'node:path';
import type { Results } from '../metrics/results.ts';
import { loadRunPlan } from '../run/load-plan.ts';
import type { RunOverrides } from '../profile/load.ts';
import type { RunPlan } from '../profile/types.ts';
import { formatSummary } from '../report/console.ts';
import type { Reporter } from '../report/reporter.ts';
import { ProgressReporter } from '../report/progress.ts';
import { RequestLog } from '../report/request-log.ts';
import { UsageError } from '../errors.ts';
import { checkConnections, EXIT, openEnvironment, reportFixtureCounts, runExitCode } from '../run/run-environment.ts';
import type { Output } from '../run/run-environment.ts';
import { closeReporters, finishReporters, prepareReporters } from '../run/report-files.ts';
import { EngineFeed, profileView, runView } from './engine-feed.ts';
import { runSummary } from './live-feed.ts';
import type { RunSummary } from './live-feed.ts';
import { LiveRun } from './live-run.ts';
import { formDefaults, mergeForm, settingsOf } from './start-settings.ts';
import type { StartForm } from './start-settings.ts';
import { downloadNames, renderDownload } from './downloads.ts';
import type { Download } from './downloads.ts';
import { ConflictError } from './ui-backend.ts';

export type RunStatus = 'idle' | 'running' | 'stopping' | 'finished';

export interface UiControllerOptions {
  readonly profilePath: string;
  /** Overrides from the command line that every run keeps (seed, thresholds, iterations). */
  readonly base: RunOverrides;
  /** The plan as the profile and the command line give it: the form's defaults. */
  readonly plan: RunPlan;
  /** The form's default ceiling: the most devices a run may be raised to while it goes. */
  readonly maxDevices?: number;
  /** Report files asked for on the command line, written at the end of every run. */
  readonly reporters: () => Reporter[];
  readonly logRequests: string | undefined;
  readonly output: Output;
  readonly quiet: boolean;
}

interface Finished {
  readonly results: Results;
  readonly summary: RunSummary;
}

/**
 * The UI's runs of one profile: starts one at a time with the page's settings, steers and stops
 * it, and keeps the last finished run's results for the page and its downloads. It pushes what
 * the page shows as messages; the server only carries them.
 */
export class UiController extends EngineFeed {
  private current: LiveRun | undefined;
  private running: Promise<void> | undefined;
  private last: Finished | undefined;
  private lastError: string | undefined;
  private starting = false;
  private readonly defaults: StartForm;

  constructor(private readonly options: UiControllerOptions) {
    super();
    this.defaults = formDefaults(options.plan, options.maxDevices);
  }

  get status(): RunStatus {
    if (this.current) return this.current.stopping ? 'stopping' : 'running';
    return this.last ? 'finished' : 'idle';
  }

  /** The last finished run's exit code, as `fleetsim run` would have returned it; undefined before one. */
  get exitCode(): number | undefined {
    return this.last?.summary.exitCode;
  }

  /** Resolves when no run is going. */
  async idle(): Promise<void> {
    await this.running;
  }

  state(): object {
    const run = this.current;
    return {
      mode: 'run',
      status: this.status,
      profile: profileView(this.options.plan),
      defaults: this.defaults,
      run: run && { settings: run.settings, spawnRate: run.spawnRate, startedAt: run.startedAt.toISOString(), resetAtS: run.resetAtS, ...runView(run.engine, run.plan, run.statsSinceMs) },
      last: this.last && this.doneMessage(this.last.results, this.last.summary),
      error: this.lastError,
      downloads: this.downloads(),
    };
  }

  /** Starts a run with the form's fields over the defaults; refuses while one is going. */
  async start(body: unknown): Promise<object> {
    if (this.current || this.starting) throw new ConflictError('a run is already going: stop it first');
    this.starting = true;
    try {
      return await this.startRun(body);
    } finally {
      this.starting = false;
    }
  }

  private async startRun(body: unknown): Promise<object> {
    const { settings, overrides } = settingsOf(mergeForm(this.defaults, body));
    const plan = await loadRunPlan(path.resolve(this.options.profilePath), { ...this.options.base, ...overrides });
    checkConnections(plan);
    const reporters = this.options.reporters();
    await prepareReporters(reporters);
    const log = this.options.logRequests;
    const requestLog = log ? new RequestLog(path.resolve(log)) : undefined;
    await requestLog?.opened();
    const environment = await openEnvironment(plan, this.options.output);
    let run: LiveRun;
    try {
      run = new LiveRun(plan, settings, environment.endpoints);
    } catch (error) {
      await environment.fixtures?.close();
      throw error;
    }
    this.current = run;
    this.lastError = undefined;
    requestLog?.attach(run.engine);
    // The console follows a run started from the page as it follows `fleetsim run`.
    const progress = this.options.quiet ? undefined : new ProgressReporter(this.options.output, settings.durationMs);
    progress?.attach(run.engine);
    for (const reporter of reporters) reporter.attach?.(run.engine);
    this.follow(run.engine, run.plan, () => run.statsSinceMs);
    if (!this.options.quiet) this.options.output.stderr(`Run started from the UI: ${describe(settings)}.`);
    this.running = this.finish(run, run.run(), reporters, requestLog, async () => {
      progress?.end();
      if (!this.options.quiet) await reportFixtureCounts(environment, this.options.output);
      await environment.fixtures?.close();
    });
    this.emit('message', 'state', this.state());
    return this.state();
  }

  stop(): object {
    if (!this.current) throw new ConflictError('no run is going');
    this.current.stop();
    return this.state();
  }

  /** Ctrl-C or SIGTERM: stops the run going (drain, reports); true when there was one. */
  interrupt(reason: 'interrupted' | 'terminated'): boolean {
    this.current?.engine.stop(reason);
    return this.current !== undefined;
  }

  /** A second signal: what is still in flight is abandoned. */
  abandon(): void {
    this.current?.engine.abandonDrain();
  }

  setDevices(body: unknown): object {
    const run = this.current;
    if (!run) throw new ConflictError('no run is going');
    const { devices, spawnRate } = (body ?? {}) as { devices?: unknown; spawnRate?: unknown };
    if (devices === undefined && spawnRate === undefined) throw new UsageError('devices: expected {"devices": N} and/or {"spawnRate": R} (devices per second)');
    if (devices !== undefined && typeof devices !== 'number') throw new UsageError('devices: expected {"devices": N}, N a whole number');
    if (spawnRate !== undefined && typeof spawnRate !== 'number') throw new UsageError('spawnRate: expected {"spawnRate": R}, R devices per second above 0');
    run.setDevices(devices, spawnRate);
    if (!this.options.quiet) this.options.output.stderr(`UI: devices → ${run.engine.targetDevices} at ${run.spawnRate}/s.`);
    return this.state();
  }

  /** Locust's "reset stats": the run's statistics start again from now; every page is sent the emptied state. */
  resetStats(): object {
    const run = this.current;
    if (!run) throw new ConflictError('no run is going');
    run.resetStats();
    if (!this.options.quiet) this.options.output.stderr(`UI: statistics reset at ${run.resetAtS ?? 0}s.`);
    const state = this.state();
    this.emit('message', 'state', state);
    return state;
  }

  downloads(): string[] {
    return downloadNames(this.options.logRequests !== undefined, this.current !== undefined || this.last !== undefined);
  }

  async download(name: string): Promise<Download | undefined> {
    const results = this.current ? this.current.interim() : this.last?.results;
    if (!results) return undefined;
    return renderDownload(name, results, this.options.logRequests);
  }

  private async finish(run: LiveRun, running: Promise<Results>, reporters: Reporter[], requestLog: RequestLog | undefined, cleanup: () => Promise<void>): Promise<void> {
    const output = this.options.output;
    const problems: string[] = [];
    try {
      const results = await running;
      const logProblem = await requestLog?.close();
      if (logProblem) problems.push(logProblem);
      problems.push(...(await finishReporters(reporters, results)));
      await cleanup();
      output.stdout(formatSummary(results));
      for (const problem of problems) output.stderr(`fleetsim: ${problem}`);
      const exitCode = problems.length > 0 ? EXIT.usage : runExitCode(results, run.reason, undefined);
      this.last = { results, summary: runSummary(results, exitCode, run.resetAtS) };
    } catch (error) {
      this.lastError = error instanceof Error ? error.message : String(error);
      output.stderr(`fleetsim: the run failed: ${this.lastError}`);
      await cleanup().catch(() => undefined);
    } finally {
      await closeReporters(reporters);
      this.current = undefined;
    }
    if (this.last) this.emit('message', 'done', this.doneMessage(this.last.results, this.last.summary));
    this.emit('message', 'state', this.state());
  }
}

function describe(settings: LiveRun['settings']): string {
  const shape = settings.stages ? `${settings.stages.length} stages` : `${settings.devices} devices at ${settings.spawnRate}/s`;
  const end = settings.durationMs === undefined ? 'until stopped' : `for ${settings.durationMs / 1000}s`;
  return `${shape} (up to ${settings.maxDevices}), ${end}`;
}
