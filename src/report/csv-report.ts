import { stringify } from 'csv-stringify/sync';
import type { LatencySummary } from '../metrics/histogram.ts';
import type { HistoryPoint, HistoryRow } from '../metrics/history.ts';
import type { Results, StatsRow } from '../metrics/results.ts';
import { writeReportFile } from './atomic-write.ts';
import { checkWritableFile } from './output-path.ts';
import type { Reporter } from './reporter.ts';

/** Locust 2.x's column headers, in its order, so notebooks written for Locust read ours unchanged. */
const PERCENTILE_COLUMNS = ['50%', '66%', '75%', '80%', '90%', '95%', '98%', '99%', '99.9%', '99.99%', '100%'] as const;

export const STATS_HEADER = [
  'Type',
  'Name',
  'Request Count',
  'Failure Count',
  'Median Response Time',
  'Average Response Time',
  'Min Response Time',
  'Max Response Time',
  'Average Content Size',
  'Requests/s',
  'Failures/s',
  ...PERCENTILE_COLUMNS,
] as const;

export const HISTORY_HEADER = [
  'Timestamp',
  'User Count',
  'Type',
  'Name',
  'Requests/s',
  'Failures/s',
  ...PERCENTILE_COLUMNS,
  'Total Request Count',
  'Total Failure Count',
  'Total Median Response Time',
  'Total Average Response Time',
  'Total Min Response Time',
  'Total Max Response Time',
  'Total Average Content Size',
] as const;

/**
 * fleetsim's columns after Locust's (readers that pick columns by name are unaffected): the rate
 * the fleet meant to send, the share of it delivered (the Aggregated line's over the trailing window
 * the verdict uses), and whose limit a shortfall was.
 */
export const HISTORY_LOAD_HEADER = ['Offered Requests/s', 'Delivered Share', 'Shortfall'] as const;

export const FAILURES_HEADER = ['Method', 'Name', 'Error', 'Occurrences'] as const;

/** Locust's `_exceptions.csv`: errors in the tool's own code, not the target's answers. */
export const EXCEPTIONS_HEADER = ['Count', 'Message', 'Traceback', 'Nodes'] as const;

/**
 * A latency without samples is written `null`, as in the JSON: pandas' `read_csv` reads it as NaN by
 * default, where a 0 (Locust's choice in the stats file) would pass for a real, impossibly fast value.
 */
export const NO_LATENCY = 'null';

type Cell = string | number;

const ms = (value: number | null): Cell => (value === null ? NO_LATENCY : value);

const round3 = (value: number): number => Math.round(value * 1000) / 1000;

/** Locust divides content bytes by requests and writes 0 for a row without any. */
const averageSize = (bytes: number, requests: number): number => (requests === 0 ? 0 : round3(bytes / requests));

function percentiles(latency: LatencySummary): Cell[] {
  return [latency.p50, latency.p66, latency.p75, latency.p80, latency.p90, latency.p95, latency.p98, latency.p99, latency.p999, latency.p9999, latency.max].map(ms);
}

/**
 * RFC 4180 with Locust's CRLF line ends (Python's csv default). A field holding a bare CR or LF is
 * quoted too: csv-stringify only quotes the record delimiter itself, and a lone LF inside an
 * unquoted field would split the record for every reader.
 */
function toCsv(header: readonly string[], rows: readonly (readonly Cell[])[]): string {
  return stringify([header, ...rows], { record_delimiter: 'windows', quoted_match: /[\r\n]/ });
}

function statsCells(row: StatsRow): Cell[] {
  const latency = row.latencyMs;
  return [
    row.type,
    row.name,
    row.requests,
    row.failures,
    ms(latency.p50),
    ms(latency.mean),
    ms(latency.min),
    ms(latency.max),
    averageSize(row.bytesIn, row.requests),
    row.rps,
    row.failuresPerS,
    ...percentiles(latency),
  ];
}

/** `PREFIX_stats.csv`: one line per (type, name), then `Aggregated` with an empty type, as Locust writes it. */
export function statsCsv(results: Results): string {
  return toCsv(STATS_HEADER, [...results.stats.map(statsCells), statsCells({ ...results.total, type: '' })]);
}

function historyCells(point: HistoryPoint, second: number, row: HistoryRow, aggregate: boolean): Cell[] {
  const total = row.cumulative;
  const load = aggregate ? point.load : undefined;
  const offeredRps = load?.offeredRps ?? row.offeredRps;
  const share = load ? load.deliveredShare : row.offeredRps ? round3((row.deliveredRps ?? 0) / row.offeredRps) : null;
  return [
    second,
    point.devicesOnline,
    row.type,
    row.name,
    row.rps,
    row.failuresPerS,
    ...percentiles(row.latencyMs),
    total.requests,
    total.failures,
    ms(total.latencyMs.p50),
    ms(total.latencyMs.mean),
    ms(total.latencyMs.min),
    ms(total.latencyMs.max),
    averageSize(total.bytesIn, total.requests),
    offeredRps ?? '',
    share ?? '',
    load?.cause && load.cause !== 'delivered' ? load.cause : '',
  ];
}

/**
 * `PREFIX_stats_history.csv`: per interval, one line per (type, name) and one `Aggregated` line
 * (Locust's `--csv-full-history`). The percentile columns are the interval's own; the `Total …`
 * columns are the run's so far. `User Count` is the devices online at the interval's end.
 */
export function historyCsv(results: Results): string {
  const seconds = historySeconds(results.history);
  const rows = results.history.flatMap((point, i) => {
    const second = seconds[i] ?? 0;
    return [...point.rows.map((row) => historyCells(point, second, row, false)), historyCells(point, second, { ...point.total, type: '' }, true)];
  });
  return toCsv([...HISTORY_HEADER, ...HISTORY_LOAD_HEADER], rows);
}

/**
 * Each interval's Timestamp: Locust writes whole epoch seconds (the JSON history keeps the
 * milliseconds). The last interval, cut short by the stop, can end in the same second as the one
 * before: it is stamped a second later, so every interval has its own Timestamp.
 */
export function historySeconds(history: readonly HistoryPoint[]): number[] {
  const seconds: number[] = [];
  for (const point of history) {
    const second = Math.floor(point.timestamp / 1000);
    const previous = seconds.at(-1);
    seconds.push(previous !== undefined && second <= previous ? previous + 1 : second);
  }
  return seconds;
}

/**
 * `PREFIX_exceptions.csv`: Locust lists its own Python exceptions here. fleetsim's internal errors
 * end the run (exit 1) rather than being counted, so a finished run has none: the file holds the
 * header, for tools that read all four.
 */
export function exceptionsCsv(): string {
  return toCsv(EXCEPTIONS_HEADER, []);
}

/** `PREFIX_failures.csv`: one line per (type, name, error), most frequent first. */
export function failuresCsv(results: Results): string {
  return toCsv(
    FAILURES_HEADER,
    results.failures.map((failure) => [failure.type, failure.name, failure.error, failure.count]),
  );
}

/** The four files `--csv PREFIX` writes, as Locust 2.x names them. */
export function csvFiles(prefix: string): { readonly stats: string; readonly history: string; readonly failures: string; readonly exceptions: string } {
  return { stats: `${prefix}_stats.csv`, history: `${prefix}_stats_history.csv`, failures: `${prefix}_failures.csv`, exceptions: `${prefix}_exceptions.csv` };
}

/** `--csv PREFIX`: Locust-compatible stats, history, failures and exceptions files. */
export function csvReporter(prefix: string): Reporter {
  const files = csvFiles(prefix);
  return {
    flag: '--csv',
    async prepare() {
      for (const file of Object.values(files)) await checkWritableFile('--csv', file);
    },
    async finish(results: Results) {
      await writeReportFile(files.stats, statsCsv(results));
      await writeReportFile(files.history, historyCsv(results));
      await writeReportFile(files.failures, failuresCsv(results));
      await writeReportFile(files.exceptions, exceptionsCsv());
    },
  };
}
