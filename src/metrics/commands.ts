import type { StatsEntry } from './stats.ts';
import type { CommandCounts, CommandSummary } from '../contracts/summaries.ts';
export type { CommandCounts, CommandSummary } from '../contracts/summaries.ts';

function countsOf(name: string, entries: readonly StatsEntry[], lost: ReadonlyMap<StatsEntry, number>): CommandCounts {
  let commands = 0;
  let failures = 0;
  let timeouts = 0;
  let late = 0;
  let lostCount = 0;
  for (const entry of entries) {
    commands += entry.requests;
    failures += entry.failures;
    timeouts += entry.timeouts;
    late += entry.lateAcks;
    lostCount += lost.get(entry) ?? 0;
  }
  return { name, commands, replied: commands - failures, timeouts, late, lost: lostCount, failed: failures - timeouts };
}

/** The results' `commands`: per COMMAND row and in total. */
export function summarizeCommands(entries: readonly StatsEntry[], lost: ReadonlyMap<StatsEntry, number>, unmatchedReplies: number): CommandSummary {
  const rows = entries.filter((entry) => entry.type === 'COMMAND').sort((a, b) => a.name.localeCompare(b.name));
  return { rows: rows.map((entry) => countsOf(entry.name, [entry], lost)), total: countsOf('Aggregated', rows, lost), unmatchedReplies };
}

/** Shards' summaries as one run's: rows of the same name add up. */
export function mergeCommands(summaries: readonly CommandSummary[]): CommandSummary {
  const byName = new Map<string, CommandCounts>();
  const add = (a: CommandCounts | undefined, b: CommandCounts): CommandCounts =>
    a === undefined
      ? b
      : {
          name: b.name,
          commands: a.commands + b.commands,
          replied: a.replied + b.replied,
          timeouts: a.timeouts + b.timeouts,
          late: a.late + b.late,
          lost: a.lost + b.lost,
          failed: a.failed + b.failed,
        };
  let total: CommandCounts | undefined;
  for (const summary of summaries) {
    for (const row of summary.rows) byName.set(row.name, add(byName.get(row.name), row));
    total = add(total, summary.total);
  }
  return {
    rows: [...byName.values()].sort((a, b) => a.name.localeCompare(b.name)),
    total: total ?? { name: 'Aggregated', commands: 0, replied: 0, timeouts: 0, late: 0, lost: 0, failed: 0 },
    unmatchedReplies: summaries.reduce((sum, summary) => sum + summary.unmatchedReplies, 0),
  };
}
