import { createReadStream } from 'node:fs';
import { stat } from 'node:fs/promises';
import type { Readable } from 'node:stream';
import type { Results } from '../metrics/results.ts';
import { exceptionsCsv, failuresCsv, historyCsv, statsCsv } from '../report/csv-report.ts';
import { htmlReport, loadPageAssets } from '../report/html-report.ts';
import type { HtmlReportInput } from '../report/html-report.ts';

/** One file to download: a body in memory, or the request log streamed from its file. */
export interface Download {
  readonly filename: string;
  readonly contentType: string;
  readonly body: string | (() => Readable);
}

/** What the page offers, by the name in its URL; the file saved is `fleetsim_<run start>_<name>`. */
const RESULT_FILES = {
  'results.json': { contentType: 'application/json; charset=utf-8' },
  'stats.csv': { contentType: 'text/csv; charset=utf-8' },
  'stats_history.csv': { contentType: 'text/csv; charset=utf-8' },
  'failures.csv': { contentType: 'text/csv; charset=utf-8' },
  'exceptions.csv': { contentType: 'text/csv; charset=utf-8' },
  'report.html': { contentType: 'text/html; charset=utf-8' },
} as const;

/** `fleetsim_2026-12-07T10-12-33_stats.csv`: the run's start (UTC) in the name, so two runs' files never overwrite each other. */
export function downloadFilename(startedAt: string, name: string): string {
  const stamp = /^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}/.exec(startedAt)?.[0].replaceAll(':', '-');
  return stamp ? `fleetsim_${stamp}_${name}` : `fleetsim_${name}`;
}

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
    return { filename: downloadFilename(results.startedAt, REQUEST_LOG), contentType: 'application/x-ndjson', body: size === 0 ? '' : () => createReadStream(requestLog, { start: 0, end: size - 1 }) };
  }
  if (!Object.hasOwn(RESULT_FILES, name)) return undefined;
  const file = RESULT_FILES[name as keyof typeof RESULT_FILES];
  const body = await renderBody(name as keyof typeof RESULT_FILES, results, capacity);
  return { filename: downloadFilename(results.startedAt, name), contentType: file.contentType, body };
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
    case 'exceptions.csv':
      return exceptionsCsv();
    case 'report.html':
      return htmlReport(capacity ? { results, capacity } : { results }, await loadPageAssets());
  }
}
