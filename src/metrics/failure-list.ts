import type { StatsEntry } from './stats.ts';
import type { FailureCount } from '../contracts/summaries.ts';
export type { FailureCount } from '../contracts/summaries.ts';

/**
 * Most frequent first; ties by name, type and reason, never by the order the reasons first
 * occurred in (which timing decides), so the live page and the results list them alike.
 */
export function compareFailures(a: FailureCount, b: FailureCount): number {
  return b.count - a.count || a.name.localeCompare(b.name) || a.type.localeCompare(b.type) || a.error.localeCompare(b.error);
}

/** Failures per (type, name, reason), in the one order the results, the CSV and the page share. */
export function failuresOf(entries: readonly StatsEntry[]): FailureCount[] {
  const failures = entries.flatMap((entry) => [...entry.errors].map(([error, count]) => ({ type: entry.type, name: entry.name, error, count })));
  return failures.sort(compareFailures);
}
