import path from 'node:path';
import { UsageError } from '../errors.ts';
import { loadRunPlan } from '../run/load-plan.ts';
import type { RunOverrides } from '../profile/load.ts';
import type { RunPlan } from '../profile/types.ts';
import { checkWritableFile } from '../report/output-path.ts';
import type { Reporter } from '../report/reporter.ts';
import { uiAccess } from '../ui/access.ts';
import { UiController } from '../ui/ui-controller.ts';
import { uiPage } from '../ui/ui-page.ts';
import { UiServer } from '../ui/ui-server.ts';
import type { UiEndpoint } from '../ui/ui-server.ts';
import type { UiBackend } from '../ui/ui-backend.ts';
import { last, MAX_DEVICES, outputFile, overridesFromFlags } from '../run/overrides.ts';
import type { FlagValue, RunFlags } from '../run/overrides.ts';
import { fileReporters, prepareReporters } from '../run/report-files.ts';
import { EXIT } from '../run/run-environment.ts';
import type { Output } from '../run/run-environment.ts';

export interface UiFlags {
  readonly uiPort?: FlagValue;
  readonly uiHost?: FlagValue;
  /** Also FLEETSIM_UI_TOKEN, through the CLI's environment prefix. */
  readonly uiToken?: FlagValue;
}

export interface UiCommandFlags extends RunFlags, UiFlags {
  readonly profile: string;
  readonly json?: FlagValue;
  readonly csv?: FlagValue;
  readonly html?: FlagValue;
  readonly logRequests?: FlagValue;
  readonly quiet?: boolean | undefined;
  /** The most devices the page may raise a run to (`--max-devices`). */
  readonly maxDevices?: FlagValue;
}

export const DEFAULT_UI_PORT = 8089;
export const DEFAULT_UI_HOST = '127.0.0.1';

/** `--ui-port` (default 8089, 0 picks a free one) and `--ui-host` (default loopback). */
export function uiEndpointFromFlags(flags: UiFlags): UiEndpoint {
  const portText = last(flags.uiPort) ?? String(DEFAULT_UI_PORT);
  const port = /^\s*\d+\s*$/.test(portText) ? Number(portText) : Number.NaN;
  if (!Number.isSafeInteger(port) || port > 65_535) throw new UsageError(`--ui-port: expected a whole number from 0 to 65535 (0 picks a free port), got '${portText}'`);
  const host = last(flags.uiHost);
  if (host !== undefined && host.trim() === '') throw new UsageError('--ui-host: name an address to listen on, e.g. 127.0.0.1 or 0.0.0.0');
  return { port, host: host?.trim() ?? DEFAULT_UI_HOST };
}

/** Serves `backend` at the flags' address and says where (with the token when one was generated). */
export async function startUiServer(backend: UiBackend, flags: UiFlags, output: Output): Promise<UiServer> {
  const endpoint = uiEndpointFromFlags(flags);
  const { access, generated } = uiAccess(endpoint.host, last(flags.uiToken));
  const server = new UiServer(backend, access, await uiPage());
  await server.listen(endpoint);
  const link = access.token !== undefined && generated ? `${server.url}?token=${access.token}` : server.url;
  const elsewhere = server.everyAddress ? `; listening on ${endpoint.host}, so from other machines use this one's address` : '';
  output.stderr(`fleetsim UI at ${link} (Ctrl-C to quit${elsewhere})`);
  if (access.token !== undefined && !generated) output.stderr('The UI and its API need the token from FLEETSIM_UI_TOKEN (--ui-token): ?token= on the page URL, or the X-Fleetsim-Token header.');
  if (generated) output.stderr('Off loopback the UI and its API need that token (?token= or the X-Fleetsim-Token header); set FLEETSIM_UI_TOKEN to choose it.');
  return server;
}

/** What every run of the UI keeps from the command line; the shape and the endpoints are the form's defaults instead. */
function keptOverrides(overrides: RunOverrides): RunOverrides {
  return {
    ...(overrides.seed === undefined ? {} : { seed: overrides.seed }),
    ...(overrides.thresholds === undefined ? {} : { thresholds: overrides.thresholds }),
    ...(overrides.iterations === undefined ? {} : { iterations: overrides.iterations }),
  };
}

/**
 * The UI's ceiling: `--max-devices`, else the larger of the count asked for (`-u`, `--stage`) and
 * the profile's own fleet, so `run --ui -u 10` on a 100-device profile can still be raised to 100.
 * Every run is sized to it (the fleet, the file-descriptor check), so it is not raised further.
 */
async function uiCeiling(given: UiCommandFlags, overrides: RunOverrides, plan: RunPlan): Promise<number> {
  const text = last(given.maxDevices);
  if (text !== undefined) {
    const value = /^\s*\d+\s*$/.test(text) ? Number(text) : Number.NaN;
    if (!Number.isSafeInteger(value) || value < 1 || value > MAX_DEVICES) throw new UsageError(`--max-devices: expected a whole number from 1 to ${MAX_DEVICES}, got '${text}'`);
    if (value < plan.devices) throw new UsageError(`--max-devices: ${value} is below the ${plan.devices} devices asked for`);
    return value;
  }
  if (overrides.devices === undefined && overrides.stages === undefined) return plan.devices;
  const unshaped = Object.fromEntries(Object.entries(overrides).filter(([key]) => key !== 'devices' && key !== 'stages')) as RunOverrides;
  const profile = await loadRunPlan(path.resolve(given.profile), unshaped);
  return Math.max(plan.devices, profile.devices);
}

/**
 * `fleetsim ui <profile>` (and `run --ui`, which starts a run at once): serves the live page and its
 * control API until Ctrl-C. A run going then is drained and its reports written, as `run` does;
 * the exit code is the last run's, as `run` would have returned it (0 when none finished).
 */
export async function uiCommand(given: UiCommandFlags, output: Output, signals: NodeJS.EventEmitter, startNow: boolean): Promise<number> {
  uiEndpointFromFlags(given);
  const overrides = overridesFromFlags(given);
  const plan = await loadRunPlan(path.resolve(given.profile), overrides);
  const json = outputFile('json', given.json);
  if (json === '-') throw new UsageError('--json: with the UI, name a file (the results are also downloadable from the page)');
  // Built once here, so a bad --csv or --html is refused before the UI starts; each run gets its own.
  const reporters = (): Reporter[] => fileReporters(given);
  const checked = reporters();
  const logRequests = outputFile('log-requests', given.logRequests);
  await prepareReporters(checked);
  if (logRequests) await checkWritableFile('--log-requests', logRequests);
  const quiet = given.quiet === true;
  const maxDevices = await uiCeiling(given, overrides, plan);
  const controller = new UiController({ profilePath: given.profile, base: keptOverrides(overrides), plan, maxDevices, reporters, logRequests, output, quiet });
  const server = await startUiServer(controller, given, output);
  try {
    const watch = watchSignals(signals, controller, output, quiet);
    try {
      if (startNow) await controller.start({});
      await watch.first;
      await controller.idle();
    } finally {
      watch.dispose();
    }
    return controller.exitCode ?? EXIT.ok;
  } finally {
    await server.close();
  }
}

/** What a signal stops: the run going, if any. */
export interface Interruptible {
  /** Stops the run going (drain, reports); true when there was one. */
  interrupt(reason: 'interrupted' | 'terminated'): boolean;
  /** Abandons what is still in flight. */
  abandon(): void;
}

/**
 * `first` resolves at the first SIGINT or SIGTERM, having stopped the run going (drain, reports); a
 * second abandons what is still in flight; a third leaves at once. SIGHUP is ignored, as `run` does.
 */
export function watchSignals(signals: NodeJS.EventEmitter, controller: Interruptible, output: Output, quiet: boolean): { first: Promise<void>; dispose(): void } {
  let count = 0;
  let first: 'interrupted' | 'terminated' = 'interrupted';
  let resolveFirst = (): void => undefined;
  const firstSignal = new Promise<void>((resolve) => (resolveFirst = resolve));
  const on = (reason: 'interrupted' | 'terminated') => (): void => {
    count++;
    if (count === 1) {
      first = reason;
      if (controller.interrupt(reason) && !quiet)
        output.stderr(`${reason === 'terminated' ? 'Terminated (SIGTERM)' : 'Interrupted'}: draining in-flight requests, then writing reports and quitting (again to abandon them).`);
      resolveFirst();
    } else if (count === 2) controller.abandon();
    else process.exit(first === 'terminated' ? EXIT.terminated : EXIT.interrupted);
  };
  const onInterrupt = on('interrupted');
  const onTerminate = on('terminated');
  const onHangUp = (): void => undefined;
  signals.on('SIGINT', onInterrupt);
  signals.on('SIGTERM', onTerminate);
  signals.on('SIGHUP', onHangUp);
  return {
    first: firstSignal,
    dispose: () => {
      signals.off('SIGINT', onInterrupt);
      signals.off('SIGTERM', onTerminate);
      signals.off('SIGHUP', onHangUp);
    },
  };
}
