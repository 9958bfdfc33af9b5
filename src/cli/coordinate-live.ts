import type { Coordinator } from '../distributed/coordinator.ts';
import { FleetLive } from '../distributed/fleet-live.ts';
import { UsageError } from '../errors.ts';
import type { Results } from '../metrics/results.ts';
import type { RunPlan } from '../profile/types.ts';
import { PrometheusReporter } from '../report/prometheus.ts';
import type { Output } from '../run/run-environment.ts';
import { FleetUi } from '../ui/fleet-ui.ts';
import type { UiServer } from '../ui/ui-server.ts';
import { metricsEndpointFromFlags } from './metrics-flags.ts';
import type { RunCommandFlags } from './run-command.ts';
import { startUiServer, uiEndpointFromFlags } from './ui-command.ts';

/** The flags of a coordinated run's live views. */
export type FleetViewFlags = Pick<RunCommandFlags, 'metricsPort' | 'metricsHost' | 'ui' | 'uiPort' | 'uiHost' | 'uiToken'>;

/** A coordinated run's live views, open for its whole life. */
export interface FleetViews {
  /** The merged results are written: the views show them (a scrape reads their counts, a lost worker's intervals kept). */
  finish(results: Results & { readonly coordinator?: { readonly lost: readonly number[] } }, exitCode?: number): void;
  close(): Promise<void>;
}

/** Refuses a view's flag without the flag it goes with, before anything starts. */
export function checkFleetViewFlags(given: FleetViewFlags): void {
  metricsEndpointFromFlags(given.metricsPort, given.metricsHost);
  if (given.ui !== true) {
    const orphan = (['uiPort', 'uiHost', 'uiToken'] as const).find((key) => given[key] !== undefined);
    if (orphan) throw new UsageError(`--${orphan.replace(/[A-Z]/g, (c) => `-${c.toLowerCase()}`)}: only with --ui`);
  } else uiEndpointFromFlags(given);
}

/**
 * `coordinate --metrics-port` and `--ui`: the fleet's Prometheus endpoint (the metric names of a
 * single run, read from the merged intervals) and the live page (the merged fleet, its workers,
 * and its device count set from there). Undefined when neither was asked for.
 */
export async function openFleetViews(given: FleetViewFlags, coordinator: Coordinator, plan: RunPlan, count: number, output: Output): Promise<FleetViews | undefined> {
  const endpoint = metricsEndpointFromFlags(given.metricsPort, given.metricsHost);
  if (!endpoint && given.ui !== true) return undefined;
  const live = new FleetLive(coordinator, plan, count);
  let metrics: PrometheusReporter | undefined;
  let page: FleetUi | undefined;
  let server: UiServer | undefined;
  const close = async (): Promise<void> => {
    live.close();
    await server?.close();
    await metrics?.close();
  };
  try {
    if (endpoint) {
      metrics = new PrometheusReporter(endpoint, (line) => output.stderr(line));
      metrics.follow(() => live.metricsSource());
      await metrics.prepare();
    }
    if (given.ui === true) {
      page = new FleetUi(live, coordinator, plan);
      server = await startUiServer(page, given, output);
    }
  } catch (error) {
    await close();
    throw error;
  }
  return {
    finish(results, exitCode) {
      live.finish(results);
      page?.finish(results, exitCode);
    },
    close,
  };
}
