import { setImmediate as nextTurn } from 'node:timers/promises';
import { collectDefaultMetrics, Counter, Gauge, Histogram, Registry } from 'prom-client';
import { cumulativeBuckets, PROMETHEUS_BOUNDS_MICROS } from '../metrics/histogram-buckets.ts';
import type { CumulativeBuckets } from '../metrics/histogram-buckets.ts';
import type { IntervalHealth } from '../metrics/history.ts';
import type { IntervalLoad } from '../metrics/load-verdict.ts';
import type { StatsEntry } from '../metrics/stats.ts';

/** What a scrape reads: the live rows and the fleet's latest state. */
export interface MetricsSource {
  readonly entries: readonly StatsEntry[];
  readonly devicesOnline: number;
  readonly devicesTarget: number;
  /** The generator's health over the latest interval; undefined before the first one closes. */
  readonly generator: IntervalHealth | undefined;
  /** The latest interval's share of the offered load and whose limit a shortfall was. */
  readonly load?: IntervalLoad | undefined;
}

export const METRIC_NAMES = {
  requests: 'fleetsim_requests_total',
  latency: 'fleetsim_request_duration_seconds',
  devicesOnline: 'fleetsim_devices_online',
  devicesTarget: 'fleetsim_devices_target',
  busy: 'fleetsim_generator_event_loop_busy_ratio',
  lag: 'fleetsim_generator_event_loop_lag_p99_seconds',
  offered: 'fleetsim_offered_requests_total',
  deliveredShare: 'fleetsim_delivered_share',
  shortfall: 'fleetsim_load_shortfall',
  runQueue: 'fleetsim_generator_run_queue_ratio',
} as const;

/** Every value `fleetsim_load_shortfall`'s `cause` label takes. */
const SHORTFALL_CAUSES = ['target', 'generator', 'host', 'queues'] as const;

const BOUNDS_SECONDS = PROMETHEUS_BOUNDS_MICROS.map((micros) => micros / 1e6);

/** A scrape reads rows for at most this long before it lets the devices' callbacks run. */
const SLICE_MS = 2;

interface RowLabels {
  readonly type: string;
  readonly name: string;
}

/** One row as one scrape reads it: its counters and its buckets at the same instant, so `_count` equals `requests`. */
interface RowReading {
  readonly labels: RowLabels;
  readonly requests: number;
  readonly failures: number;
  readonly timeouts: number;
  readonly buckets: CumulativeBuckets;
}

/**
 * Reads every row once per scrape, shared by the counter and the histogram. The HDR pass is the
 * scrape's main cost (about 0.1 ms per row with samples from 1 ms to 5 s), so it runs in slices of
 * SLICE_MS between which the event loop serves the devices, and a row that recorded nothing since
 * the last scrape is not read again.
 */
class RowReader {
  private pending: Promise<readonly RowReading[]> | undefined;
  private readonly last = new WeakMap<StatsEntry, RowReading>();

  constructor(private readonly source: () => MetricsSource | undefined) {}

  /** The current scrape's readings: every metric collected in one scrape gets the same ones. */
  readings(): Promise<readonly RowReading[]> {
    this.pending ??= this.readAll().finally(() => {
      this.pending = undefined;
    });
    return this.pending;
  }

  private async readAll(): Promise<readonly RowReading[]> {
    const entries = [...(this.source()?.entries ?? [])];
    const readings: RowReading[] = [];
    let sliceStart = performance.now();
    for (const entry of entries) {
      readings.push(this.read(entry));
      if (performance.now() - sliceStart > SLICE_MS) {
        await nextTurn();
        sliceStart = performance.now();
      }
    }
    return readings;
  }

  private read(entry: StatsEntry): RowReading {
    const previous = this.last.get(entry);
    if (previous && previous.requests === entry.requests) return previous;
    const reading: RowReading = {
      // The same labels object every scrape: prom-client caches a shared-labels object's formatting.
      labels: previous?.labels ?? { type: entry.type, name: entry.name },
      requests: entry.requests,
      failures: entry.failures,
      timeouts: entry.timeouts,
      buckets: cumulativeBuckets(entry.latency, PROMETHEUS_BOUNDS_MICROS),
    };
    this.last.set(entry, reading);
    return reading;
  }
}

type LatencyLabel = 'type' | 'name' | 'le';
type HistogramSnapshot = Awaited<ReturnType<Histogram<LatencyLabel>['get']>>;

/** A sample line as prom-client's registry formats it: `sharedLabels` is formatted once per object and reused. */
interface SampleLine {
  readonly metricName: string;
  readonly labels: { le?: number | string };
  readonly sharedLabels: RowLabels;
  readonly value: number;
}

/**
 * A Prometheus histogram whose buckets are read from the rows' HDR histograms at scrape time.
 * Observing through prom-client on every attempt would cost the generator rate it measures;
 * reading the HDR counts once per row per scrape costs the scrape alone.
 */
class HdrLatencyHistogram extends Histogram<LatencyLabel> {
  constructor(
    registry: Registry,
    private readonly rows: RowReader,
  ) {
    super({
      name: METRIC_NAMES.latency,
      help: 'Latency of finished attempts per (type, name), failures and timeouts included, read from the HDR histograms',
      labelNames: ['type', 'name'],
      buckets: BOUNDS_SECONDS,
      registers: [registry],
    });
  }

  override async get(): Promise<HistogramSnapshot> {
    const snapshot = await this.snapshot();
    // prom-client's JSON form carries every label on the sample itself.
    snapshot.values = snapshot.values.map((line) => ({ ...line, labels: { ...(line as SampleLine).sharedLabels, ...line.labels }, sharedLabels: {} }));
    return snapshot;
  }

  /** The registry prefers this to `get()` when it writes the text format; prom-client's own would read its (empty) observations. */
  getForPromString(): Promise<HistogramSnapshot> {
    return this.snapshot();
  }

  private async snapshot(): Promise<HistogramSnapshot> {
    // name, help, type and aggregator are set at runtime by prom-client's Metric; its typings omit them.
    const own = this as unknown as Pick<HistogramSnapshot, 'name' | 'help' | 'type' | 'aggregator' | 'collect'>;
    const bucket = `${own.name}_bucket`;
    const sum = `${own.name}_sum`;
    const count = `${own.name}_count`;
    const readings = await this.rows.readings();
    // prom-client formats each metric in the turn its values arrive: the counter's lines go out in
    // this one, so the histogram's (most of the text) wait for the next.
    await nextTurn();
    const lines: SampleLine[] = [];
    for (const row of readings) {
      const shared = row.labels;
      for (let i = 0; i < BOUNDS_SECONDS.length; i++) {
        lines.push({ metricName: bucket, labels: { le: BOUNDS_SECONDS[i] as number }, sharedLabels: shared, value: row.buckets.cumulative[i] ?? 0 });
      }
      lines.push({ metricName: bucket, labels: { le: '+Inf' }, sharedLabels: shared, value: row.buckets.count });
      lines.push({ metricName: sum, labels: {}, sharedLabels: shared, value: row.buckets.sumMicros / 1e6 });
      lines.push({ metricName: count, labels: {}, sharedLabels: shared, value: row.buckets.count });
    }
    return { name: own.name, help: own.help, type: own.type, aggregator: own.aggregator, collect: own.collect, values: lines };
  }
}

export interface RegistryOptions {
  /** prom-client's process and Node.js metrics (CPU, memory, handles, GC) but the open-descriptor count: a monitor and a GC observer that live as long as the process. */
  readonly processMetrics: boolean;
}

/** A private registry (never prom-client's global one) whose every value is read from `read()` at scrape time. */
export function createFleetRegistry(read: () => MetricsSource | undefined, options: RegistryOptions): Registry {
  const registry = new Registry();
  const rows = new RowReader(read);
  new Counter<'type' | 'name' | 'outcome'>({
    name: METRIC_NAMES.requests,
    help: 'Finished attempts per (type, name) by outcome: ok, failure (not a timeout), timeout',
    labelNames: ['type', 'name', 'outcome'],
    registers: [registry],
    async collect() {
      const readings = await rows.readings();
      this.reset();
      for (const row of readings) {
        const { type, name } = row.labels;
        this.inc({ type, name, outcome: 'ok' }, row.requests - row.failures);
        this.inc({ type, name, outcome: 'failure' }, row.failures - row.timeouts);
        this.inc({ type, name, outcome: 'timeout' }, row.timeouts);
      }
    },
  });
  new HdrLatencyHistogram(registry, rows);
  new Counter<'type' | 'name'>({
    name: METRIC_NAMES.offered,
    help: 'Attempts the fleet meant to start per (type, name), from the load shape and the wait models (fractional); rate() of it beside fleetsim_requests_total is the delivered share',
    labelNames: ['type', 'name'],
    registers: [registry],
    collect() {
      this.reset();
      for (const entry of read()?.entries ?? []) if (entry.offers) this.inc({ type: entry.type, name: entry.name }, entry.offered);
    },
  });
  new Gauge<'cause'>({
    name: METRIC_NAMES.shortfall,
    help: '1 for whose limit kept the latest interval below the delivered-share floor (target, generator, host, queues), 0 for the others; all 0 when the load was delivered',
    labelNames: ['cause'],
    registers: [registry],
    collect() {
      const cause = read()?.load?.cause;
      for (const label of SHORTFALL_CAUSES) this.set({ cause: label }, cause === label ? 1 : 0);
    },
  });
  const gauge = (name: string, help: string, value: (source: MetricsSource) => number | undefined): void => {
    new Gauge({
      name,
      help,
      registers: [registry],
      collect() {
        const source = read();
        this.set((source === undefined ? undefined : value(source)) ?? 0);
      },
    });
  };
  gauge(METRIC_NAMES.devicesOnline, 'Devices started and not finished whose session (if any) is up', (source) => source.devicesOnline);
  gauge(METRIC_NAMES.devicesTarget, "Devices the load shape heads for now: the current stage's or ramp's target", (source) => source.devicesTarget);
  gauge(METRIC_NAMES.busy, "Share of the latest interval the generator's event loop spent running callbacks (0 before the first interval)", (source) =>
    source.generator === undefined ? undefined : source.generator.busyPercent / 100,
  );
  gauge(METRIC_NAMES.lag, "The generator's event-loop delay p99 over the latest interval, in seconds (0 before the first interval)", (source) =>
    source.generator === undefined ? undefined : source.generator.lagP99Ms / 1000,
  );
  gauge(
    METRIC_NAMES.deliveredShare,
    "Delivered ÷ offered attempts over the latest interval's trailing window (1 before the first interval or with nothing offered)",
    (source) => source.load?.deliveredShare ?? 1,
  );
  gauge(METRIC_NAMES.runQueue, "Share of the latest interval the generator's main thread waited for a CPU (another process had it)", (source) =>
    source.generator?.runQueuePercent === undefined ? undefined : source.generator.runQueuePercent / 100,
  );
  if (options.processMetrics) {
    collectDefaultMetrics({ register: registry });
    // It lists /proc/self/fd synchronously on every scrape: with one socket per device, 5,000
    // devices add ~3 ms to each scrape's block of the event loop, and the run checks its open-file
    // limit up front anyway.
    registry.removeSingleMetric('process_open_fds');
  }
  return registry;
}
