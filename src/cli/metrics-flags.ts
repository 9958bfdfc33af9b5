import { UsageError } from '../errors.ts';
import type { MetricsEndpoint } from '../report/prometheus.ts';
import { last } from '../run/overrides.ts';
import type { FlagValue } from '../run/overrides.ts';

/** Loopback unless told: the endpoint shows target names and rates to whoever can reach it. */
export const DEFAULT_METRICS_HOST = '127.0.0.1';

/** `--metrics-port` and `--metrics-host` as typed, or undefined when no endpoint was asked for. */
export function metricsEndpointFromFlags(port: FlagValue, host: FlagValue): MetricsEndpoint | undefined {
  const portText = last(port);
  const hostText = last(host);
  if (portText === undefined) {
    if (hostText !== undefined) throw new UsageError('--metrics-host: only with --metrics-port');
    return undefined;
  }
  const value = /^\s*\d+\s*$/.test(portText) ? Number(portText) : Number.NaN;
  if (!Number.isSafeInteger(value) || value > 65_535) throw new UsageError(`--metrics-port: expected a whole number from 0 to 65535 (0 picks a free port), got '${portText}'`);
  if (hostText !== undefined && hostText.trim() === '') throw new UsageError('--metrics-host: name an address to listen on, e.g. 127.0.0.1 or 0.0.0.0');
  return { port: value, host: hostText?.trim() ?? DEFAULT_METRICS_HOST };
}
