import { createReadStream } from 'node:fs';
import { stat } from 'node:fs/promises';
import type { Readable } from 'node:stream';
import type { Results } from '../metrics/results.ts';
import { failuresCsv, historyCsv, statsCsv } from '../report/csv-report.ts';
import { htmlReport, loadPageAssets } from '../report/html-report.ts';
import type { HtmlReportInput } from '../report/html-report.ts';

/** One file to download: a body in memory, or the request log streamed from its file. */
export interface Download {
  readonly filename: string;
  readonly contentType: string;
  readonly body: string | (() => Readable);
}

/** Locust's download names for its CSVs (`requests_…` there), fleetsim's for the rest. */
const RESULT_FILES = {
  'results.json': { filename: 'fleetsim_results.json', contentType: 'application/json; charset=utf-8' },
  'stats.csv': { filename: 'fleetsim_stats.csv', contentType: 'text/csv; charset=utf-8' },
  'stats_history.csv': { filename: 'fleetsim_stats_history.csv', contentType: 'text/csv; charset=utf-8' },
  'failures.csv': { filename: 'fleetsim_failures.csv', contentType: 'text/csv; charset=utf-8' },
  'report.html': { filename: 'fleetsim_report.html', contentType: 'text/html; charset=utf-8' },
} as const;

const REQUEST_LOG = 'requests.ndjson';

export function downloadNames(requestLog: boolean, hasRun: boolean): string[] {
  if (!hasRun) return [];
  return [...Object.keys(RESULT_FILES), ...(requestLog ? [REQUEST_LOG] : [])];
}

/** The file `name` for these results; undefined for a name that is not one of them. */
export async function renderDownload(name: string, results: Results, requestLog: string | undefined, capacity?: HtmlReportInput['capacity']): Promise<Download | undefined> {
  if (name === REQUEST_LOG) {
    if (requestLog === undefined) return undefined;
    // Only the log's file as the run has flushed it so far: the rest is still being written.
    const size = (await stat(requestLog)).size;
    return { filename: 'fleetsim_requests.ndjson', contentType: 'application/x-ndjson', body: size === 0 ? '' : () => createReadStream(requestLog, { start: 0, end: size - 1 }) };
  }
  if (!Object.hasOwn(RESULT_FILES, name)) return undefined;
  const file = RESULT_FILES[name as keyof typeof RESULT_FILES];
  const body = await renderBody(name as keyof typeof RESULT_FILES, results, capacity);
  return { ...file, body };
}

async function renderBody(name: keyof typeof RESULT_FILES, results: Results, capacity: HtmlReportInput['capacity']): Promise<string> {
  switch (name) {
    case 'results.json':
      return `${JSON.stringify(results, null, 2)}\n`;
    case 'stats.csv':
      return statsCsv(results);
    case 'stats_history.csv':
      return historyCsv(results);
    case 'failures.csv':
      return failuresCsv(results);
    case 'report.html':
      return htmlReport(capacity ? { results, capacity } : { results }, await loadPageAssets());
  }
}
