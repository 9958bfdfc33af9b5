import type { Results } from '../metrics/results.ts';
import { csvReporter } from '../report/csv-report.ts';
import { htmlReporter } from '../report/html-report.ts';
import { jsonReporter } from '../report/json-report.ts';
import type { Reporter } from '../report/reporter.ts';
import { outputFile } from './overrides.ts';
import type { FlagValue } from './overrides.ts';

/** The report-file flags that run, run --workers, run --ui and merge share. */
export interface ReportFileFlags {
  readonly json?: FlagValue;
  readonly csv?: FlagValue;
  readonly html?: FlagValue;
}

/**
 * The reporters `--json`, `--csv` and `--html` ask for, in that order (an empty file name is a
 * usage error). `jsonStdout` is where `--json -` writes; without it, `-` writes nothing.
 */
export function fileReporters(flags: ReportFileFlags, jsonStdout?: (text: string) => void): Reporter[] {
  const reporters: Reporter[] = [];
  const json = outputFile('json', flags.json);
  if (json) reporters.push(jsonReporter(json, jsonStdout));
  const csv = outputFile('csv', flags.csv);
  if (csv) reporters.push(csvReporter(csv));
  const html = outputFile('html', flags.html);
  if (html) reporters.push(htmlReporter(html));
  return reporters;
}

/** `--json -`: the results JSON goes to stdout, so the summary for people goes to stderr. */
export function jsonOnStdout(flags: ReportFileFlags): boolean {
  return outputFile('json', flags.json) === '-';
}

/** Before the run: each reporter checks its output can be written, one after another. */
export async function prepareReporters(reporters: readonly Reporter[]): Promise<void> {
  for (const reporter of reporters) await reporter.prepare?.();
}

/**
 * Runs every write, in order, whatever an earlier one did: a report that cannot be written does not
 * cost the others. Returns what went wrong, each as `flag: reason`.
 */
export async function attemptWrites(writes: readonly (readonly [flag: string, write: () => Promise<void>])[]): Promise<string[]> {
  const problems: string[] = [];
  for (const [flag, write] of writes) {
    try {
      await write();
    } catch (error) {
      problems.push(`${flag}: ${error instanceof Error ? error.message : String(error)}`);
    }
  }
  return problems;
}

/** Writes every reporter's final report; returns the problems, as `attemptWrites`. */
export function finishReporters(reporters: readonly Reporter[], results: Results): Promise<string[]> {
  return attemptWrites(reporters.map((reporter) => [reporter.flag, () => reporter.finish?.(results) ?? Promise.resolve()] as const));
}

/** After the final reports: each reporter releases what it holds. */
export async function closeReporters(reporters: readonly Reporter[]): Promise<void> {
  for (const reporter of reporters) await reporter.close?.();
}
