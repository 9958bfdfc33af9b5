import { createHistogram, encodeHistogram, meanMicros, summarize } from './histogram.ts';
import type { LatencyHistogram } from './histogram.ts';
import { History, isSaturated } from './history.ts';
import { DeliveryWindow, emptyTally, POISSON_NOISE, tallyInterval } from './load-verdict.ts';
import { RecentWindow } from './recent-window.ts';
import type { LoadNoise, LoadTally } from './load-verdict.ts';
import type { CumulativeCounts, HistoryLimits, HistoryPoint, HistoryRow, IntervalHealth } from './history.ts';
import { StatsEntry } from './stats-entry.ts';
import { StatsWindow } from './stats-window.ts';
export { StatsEntry } from './stats-entry.ts';
export { StatsWindow } from './stats-window.ts';

/** The trailing window an interval's delivered share is read over, unless the plan's periods ask for longer. */
export const DEFAULT_WINDOW_S = 10;

/** Intervals shorter than this are not judged saturated. */
const MIN_JUDGED_INTERVAL_S = 0.25;

/** The aggregate a row belongs to: MQTT rows by packet (DELIVER: messages subscribers received; COMMAND: command to reply), every HTTP method under `HTTP`. */
export function rowTypeGroup(type: string): string {
  return type === 'CONNECT' || type === 'PUBLISH' || type === 'SUBSCRIBE' || type === 'DELIVER' || type === 'COMMAND' ? type : 'HTTP';
}

/** An aggregate over several rows, fed once per interval. */
class Aggregate {
  readonly interval = createHistogram();
  readonly cumulative = createHistogram();
  requests = 0;
  failures = 0;
  timeouts = 0;
  bytesIn = 0;
  intervalRequests = 0;
  intervalFailures = 0;
  intervalTimeouts = 0;
  offered = 0;
  delivered = 0;
  intervalOffered = 0;
  intervalDelivered = 0;
  intervalQueuedMicros = 0;
  offers = false;

  constructor(
    readonly type: string,
    readonly name: string,
  ) {}

  add(entry: StatsEntry): void {
    this.interval.add(entry.intervalLatency);
    this.intervalRequests += entry.intervalRequests;
    this.intervalFailures += entry.intervalFailures;
    this.intervalTimeouts += entry.intervalTimeouts;
    this.requests += entry.intervalRequests;
    this.failures += entry.intervalFailures;
    this.timeouts += entry.intervalTimeouts;
    this.bytesIn += entry.intervalBytesIn;
    this.intervalOffered += entry.intervalOffered;
    this.intervalDelivered += entry.intervalDelivered;
    this.intervalQueuedMicros += entry.intervalQueuedMicros;
    this.offers ||= entry.offers;
  }

  close(seconds: number, withHistogram = false): HistoryRow {
    this.cumulative.add(this.interval);
    this.offered += this.intervalOffered;
    this.delivered += this.intervalDelivered;
    const offer = this.offers ? { offered: this.intervalOffered, delivered: this.intervalDelivered } : undefined;
    const row = historyRow(
      this.type,
      this.name,
      this.intervalRequests,
      this.intervalFailures,
      this.intervalTimeouts,
      seconds,
      this.interval,
      this.requests,
      this.failures,
      this.bytesIn,
      this.cumulative,
      offer,
      withHistogram,
    );
    this.interval.reset();
    this.intervalRequests = 0;
    this.intervalFailures = 0;
    this.intervalTimeouts = 0;
    this.intervalOffered = 0;
    this.intervalDelivered = 0;
    this.intervalQueuedMicros = 0;
    return row;
  }
}

/** Requests and latency of the intervals in which the generator was saturated, and of the rest. */
export interface SaturationSplit {
  readonly intervals: number;
  readonly seconds: number;
  readonly requests: number;
  /** Latency of every attempt that finished outside saturated intervals. */
  readonly unsaturatedLatency: LatencyHistogram;
}

/** Stats per (type, name). Entries are resolved once per task so recording does no lookup. */
export class RunStats {
  private readonly byKey = new Map<string, StatsEntry>();
  readonly entries: StatsEntry[] = [];
  readonly history: History;
  private total = new Aggregate('', 'Aggregated');
  private readonly types = new Map<string, Aggregate>();
  private readonly unsaturated = createHistogram();
  private saturatedIntervals = 0;
  private saturatedSeconds = 0;
  private saturatedRequests = 0;
  private lastSnapshotMs = 0;
  private readonly windows = new Set<StatsWindow>();
  /** Not judged until the run says against what floor (`judgeLoad`). */
  private deliveryWindow = new DeliveryWindow(DEFAULT_WINDOW_S, null);
  /** The live rates' window: the delivered share's, so the two read the same seconds. */
  private recentWindow = new RecentWindow(DEFAULT_WINDOW_S);

  /**
   * History rows carry their interval's encoded histogram, so a split run's intervals merge exactly
   * (set for a shard; a whole run's history has no one to merge with and stays small).
   */
  intervalHistograms = false;

  constructor(limits?: HistoryLimits) {
    this.history = new History(limits);
  }

  private judged: { readonly windowS: number; readonly floor: number | null } = { windowS: DEFAULT_WINDOW_S, floor: null };

  /**
   * Locust's "reset stats": every row, aggregate, window and the history start again from `atMs`
   * (ms since run start), the interval in progress included; the rows themselves stay, as the
   * tasks hold them. Open StatsWindows (a capacity step) are left alone.
   */
  reset(atMs: number): void {
    for (const entry of this.entries) entry.reset();
    this.total = new Aggregate('', 'Aggregated');
    this.types.clear();
    this.unsaturated.reset();
    this.saturatedIntervals = this.saturatedSeconds = this.saturatedRequests = 0;
    this.lastSnapshotMs = atMs;
    this.history.clear();
    Object.assign(this.loadTally, emptyTally());
    this.deliveryWindow = new DeliveryWindow(this.judged.windowS, this.judged.floor, this.loadNoise);
    this.recentWindow = new RecentWindow(this.judged.windowS);
  }

  /** How the offered count varies by chance, for telling a shortfall from counting noise (see shortOfFloor). */
  loadNoise: LoadNoise = POISSON_NOISE;
  /** Some model of the fleet waits for each answer before its next task. */
  closedModels = false;
  /** Every interval's load judgement, counted as it closed: the history folds old points, this does not. */
  readonly loadTally: LoadTally = emptyTally();

  /** How each interval's delivered share is judged: over the last `windowS` seconds, against `floor` (null: not judged). */
  judgeLoad(windowS: number, floor: number | null, noise: LoadNoise = POISSON_NOISE, closedModels = false): void {
    this.judged = { windowS, floor };
    this.loadNoise = noise;
    this.closedModels = closedModels;
    this.deliveryWindow = new DeliveryWindow(windowS, floor, noise);
    this.recentWindow = new RecentWindow(windowS);
  }

  entryFor(type: string, name: string): StatsEntry {
    const key = `${type} ${name}`;
    let entry = this.byKey.get(key);
    if (!entry) {
      entry = new StatsEntry(type, name);
      this.byKey.set(key, entry);
      this.entries.push(entry);
    }
    return entry;
  }

  /** Opens a window that takes in every interval closed from now until `closeWindow`. */
  openWindow(): StatsWindow {
    const window = new StatsWindow();
    this.windows.add(window);
    return window;
  }

  closeWindow(window: StatsWindow): StatsWindow {
    this.windows.delete(window);
    return window;
  }

  get saturation(): SaturationSplit {
    return { intervals: this.saturatedIntervals, seconds: Math.round(this.saturatedSeconds * 1000) / 1000, requests: this.saturatedRequests, unsaturatedLatency: this.unsaturated };
  }

  /** Closes the current interval into a history point; `atMs` is ms since run start. */
  snapshot(atMs: number, devicesOnline: number, devicesTarget: number, generator: IntervalHealth, devicesPlanned?: number): HistoryPoint {
    const seconds = Math.max(0.001, (atMs - this.lastSnapshotMs) / 1000);
    this.lastSnapshotMs = atMs;
    // A busy share over a few ms (the last interval, cut short by the stop) says nothing.
    const saturated = seconds >= MIN_JUDGED_INTERVAL_S && isSaturated(generator);
    const rows = this.entries.map((entry) => {
      this.total.add(entry);
      const group = rowTypeGroup(entry.type);
      let aggregate = this.types.get(group);
      if (!aggregate) {
        aggregate = new Aggregate(group, `${group} Aggregated`);
        this.types.set(group, aggregate);
      }
      aggregate.add(entry);
      for (const window of this.windows) window.add(entry);
      const offer = entry.offers ? { offered: entry.intervalOffered, delivered: entry.intervalRequests } : undefined;
      const row = historyRow(
        entry.type,
        entry.name,
        entry.intervalRequests,
        entry.intervalFailures,
        entry.intervalTimeouts,
        seconds,
        entry.intervalLatency,
        entry.requests,
        entry.failures,
        entry.bytesIn,
        entry.latency,
        offer,
        this.intervalHistograms,
      );
      entry.resetInterval();
      return row;
    });
    if (saturated) {
      this.saturatedIntervals++;
      this.saturatedSeconds += seconds;
      this.saturatedRequests += this.total.intervalRequests;
    } else {
      this.unsaturated.add(this.total.interval);
    }
    const total = this.total;
    const queue = total.intervalRequests > 0 ? { queuedMeanMs: total.intervalQueuedMicros / total.intervalRequests / 1000, latencyMeanMs: meanMicros(total.interval) / 1000 } : undefined;
    const load = total.offers ? this.deliveryWindow.push(seconds, total.intervalOffered, total.intervalDelivered, generator, queue) : undefined;
    if (load) tallyInterval(this.loadTally, load, seconds);
    for (const window of this.windows) window.closeInterval(seconds, generator, saturated, load);
    const recent = this.recentWindow.push(seconds, total.intervalRequests, total.intervalFailures, total.interval);
    const types = [...this.types.values()].map((aggregate) => aggregate.close(seconds, this.intervalHistograms));
    const point: HistoryPoint = {
      atS: Math.round(atMs) / 1000,
      timestamp: Date.now(),
      intervalS: Math.round(seconds * 1000) / 1000,
      folded: 1,
      devicesOnline,
      devicesTarget,
      ...(devicesPlanned === undefined ? {} : { devicesPlanned }),
      generator,
      saturated,
      total: this.total.close(seconds, this.intervalHistograms),
      types,
      rows,
      ...(load ? { load } : {}),
      recent,
    };
    this.history.push(point);
    return point;
  }
}

const round3 = (value: number): number => Math.round(value * 1000) / 1000;

function historyRow(
  type: string,
  name: string,
  requests: number,
  failures: number,
  timeouts: number,
  seconds: number,
  interval: LatencyHistogram,
  totalRequests: number,
  totalFailures: number,
  totalBytesIn: number,
  cumulative: LatencyHistogram,
  offer: { readonly offered: number; readonly delivered: number } | undefined,
  withHistogram = false,
): HistoryRow {
  const whole = summarizeSome(cumulative);
  return {
    ...(withHistogram && interval.totalCount > 0 ? { histogram: encodeHistogram(interval) } : {}),
    ...(offer ? { offered: round3(offer.offered), delivered: offer.delivered, offeredRps: round3(offer.offered / seconds), deliveredRps: round3(offer.delivered / seconds) } : {}),
    type,
    name,
    requests,
    failures,
    timeouts,
    rps: round3(requests / seconds),
    failuresPerS: round3(failures / seconds),
    latencyMs: summarize(interval),
    cumulative: { requests: totalRequests, failures: totalFailures, bytesIn: totalBytesIn, latencyMs: whole },
  };
}

/** The median, mean, min and max that Locust's history repeats for the run so far. */
function summarizeSome(histogram: LatencyHistogram): CumulativeCounts['latencyMs'] {
  if (histogram.totalCount === 0) return { p50: null, mean: null, min: null, max: null };
  const ms = (micros: number): number => Math.round(micros) / 1000;
  return {
    p50: ms(Math.min(histogram.maxValue, histogram.getValueAtPercentile(50))),
    mean: ms(meanMicros(histogram)),
    min: ms(histogram.minNonZeroValue),
    max: ms(histogram.maxValue),
  };
}
