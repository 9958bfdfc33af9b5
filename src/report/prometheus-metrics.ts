import { collectDefaultMetrics, Counter, Gauge, Histogram, Registry } from 'prom-client';
import { cumulativeBuckets, PROMETHEUS_BOUNDS_MICROS } from '../metrics/histogram-buckets.ts';
import type { IntervalHealth } from '../metrics/history.ts';
import type { StatsEntry } from '../metrics/stats.ts';

/** What a scrape reads: the live rows and the fleet's latest state. */
export interface MetricsSource {
  readonly entries: readonly StatsEntry[];
  readonly devicesOnline: number;
  readonly devicesTarget: number;
  /** The generator's health over the latest interval; undefined before the first one closes. */
  readonly generator: IntervalHealth | undefined;
}

export const METRIC_NAMES = {
  requests: 'fleetsim_requests_total',
  latency: 'fleetsim_request_duration_seconds',
  devicesOnline: 'fleetsim_devices_online',
  devicesTarget: 'fleetsim_devices_target',
  busy: 'fleetsim_generator_event_loop_busy_ratio',
  lag: 'fleetsim_generator_event_loop_lag_p99_seconds',
} as const;

const BOUNDS_SECONDS = PROMETHEUS_BOUNDS_MICROS.map((micros) => micros / 1e6);

type LatencyLabel = 'type' | 'name' | 'le';
type HistogramSnapshot = Awaited<ReturnType<Histogram<LatencyLabel>['get']>>;
type SnapshotValue = HistogramSnapshot['values'][number];

/**
 * A Prometheus histogram whose buckets are read from the rows' HDR histograms at scrape time.
 * Observing through prom-client on every attempt would cost the generator rate it measures;
 * reading the HDR counts once per row per scrape costs the scrape alone.
 */
class HdrLatencyHistogram extends Histogram<LatencyLabel> {
  private readonly read: () => MetricsSource | undefined;

  constructor(registry: Registry, read: () => MetricsSource | undefined) {
    super({
      name: METRIC_NAMES.latency,
      help: 'Latency of finished attempts per (type, name), failures and timeouts included, read from the HDR histograms',
      labelNames: ['type', 'name'],
      buckets: BOUNDS_SECONDS,
      registers: [registry],
    });
    this.read = read;
  }

  override get(): Promise<HistogramSnapshot> {
    return Promise.resolve(this.snapshot());
  }

  /** The registry prefers this to `get()` when it writes the text format; prom-client's own would read its (empty) observations. */
  getForPromString(): Promise<HistogramSnapshot> {
    return Promise.resolve(this.snapshot());
  }

  private snapshot(): HistogramSnapshot {
    // name, help, type and aggregator are set at runtime by prom-client's Metric; its typings omit them.
    const own = this as unknown as Pick<HistogramSnapshot, 'name' | 'help' | 'type' | 'aggregator' | 'collect'>;
    const values: SnapshotValue[] = [];
    for (const entry of this.read()?.entries ?? []) {
      const buckets = cumulativeBuckets(entry.latency, PROMETHEUS_BOUNDS_MICROS);
      const bucket = `${own.name}_bucket`;
      for (let i = 0; i < BOUNDS_SECONDS.length; i++) {
        values.push({ metricName: bucket, labels: { type: entry.type, name: entry.name, le: BOUNDS_SECONDS[i] as number }, value: buckets.cumulative[i] ?? 0 });
      }
      values.push({ metricName: bucket, labels: { type: entry.type, name: entry.name, le: '+Inf' }, value: buckets.count });
      values.push({ metricName: `${own.name}_sum`, labels: { type: entry.type, name: entry.name }, value: buckets.sumMicros / 1e6 });
      values.push({ metricName: `${own.name}_count`, labels: { type: entry.type, name: entry.name }, value: buckets.count });
    }
    return { name: own.name, help: own.help, type: own.type, aggregator: own.aggregator, collect: own.collect, values };
  }
}

export interface RegistryOptions {
  /** prom-client's process and Node.js metrics (CPU, memory, handles, GC): a monitor and a GC observer that live as long as the process. */
  readonly processMetrics: boolean;
}

/** A private registry (never prom-client's global one) whose every value is read from `read()` at scrape time. */
export function createFleetRegistry(read: () => MetricsSource | undefined, options: RegistryOptions): Registry {
  const registry = new Registry();
  new Counter<'type' | 'name' | 'outcome'>({
    name: METRIC_NAMES.requests,
    help: 'Finished attempts per (type, name) by outcome: ok, failure (not a timeout), timeout',
    labelNames: ['type', 'name', 'outcome'],
    registers: [registry],
    collect() {
      this.reset();
      for (const entry of read()?.entries ?? []) {
        const labels = { type: entry.type, name: entry.name };
        this.inc({ ...labels, outcome: 'ok' }, entry.requests - entry.failures);
        this.inc({ ...labels, outcome: 'failure' }, entry.failures - entry.timeouts);
        this.inc({ ...labels, outcome: 'timeout' }, entry.timeouts);
      }
    },
  });
  new HdrLatencyHistogram(registry, read);
  const gauge = (name: string, help: string, value: (source: MetricsSource) => number | undefined): void => {
    new Gauge({
      name,
      help,
      registers: [registry],
      collect() {
        const source = read();
        const current = source === undefined ? undefined : value(source);
        this.set(current ?? 0);
      },
    });
  };
  gauge(METRIC_NAMES.devicesOnline, 'Devices started and not finished whose session (if any) is up', (source) => source.devicesOnline);
  gauge(METRIC_NAMES.devicesTarget, 'Devices the run starts in all', (source) => source.devicesTarget);
  gauge(METRIC_NAMES.busy, "Share of the latest interval the generator's event loop spent running callbacks (0 before the first interval)", (source) =>
    source.generator === undefined ? undefined : source.generator.busyPercent / 100,
  );
  gauge(METRIC_NAMES.lag, "The generator's event-loop delay p99 over the latest interval, in seconds (0 before the first interval)", (source) =>
    source.generator === undefined ? undefined : source.generator.lagP99Ms / 1000,
  );
  if (options.processMetrics) collectDefaultMetrics({ register: registry });
  return registry;
}
