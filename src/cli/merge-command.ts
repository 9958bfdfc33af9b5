import { ShardMerger } from '../distributed/merge.ts';
import type { MergedResults } from '../distributed/merge.ts';
import { readShard } from '../distributed/read-shard.ts';
import { formatSummary } from '../report/console.ts';
import { toolVersion } from '../util/version.ts';
import type { FlagValue } from '../run/overrides.ts';
import { fileReporters, finishReporters, jsonOnStdout, prepareReporters } from '../run/report-files.ts';
import { EXIT, runExitCode } from '../run/run-environment.ts';
import type { Output } from '../run/run-environment.ts';

export interface MergeCommandFlags {
  readonly results?: readonly (string | number)[] | undefined;
  readonly json?: FlagValue;
  readonly csv?: FlagValue;
  readonly html?: FlagValue;
  readonly partial?: boolean | undefined;
  readonly quiet?: boolean | undefined;
}

/** `fleetsim merge A.json B.json ...`: one run's results from its shards' results. Returns the exit code. */
export async function mergeCommand(flags: MergeCommandFlags, output: Output): Promise<number> {
  const files = (flags.results ?? []).map(String);
  const reporters = fileReporters(flags, (text) => output.stdout(text));
  await prepareReporters(reporters);
  // Each file is folded in as soon as it is parsed, so what it parsed into is garbage young.
  const merger = new ShardMerger();
  for (const file of files) merger.add(readShard(file));
  const merged: MergedResults = merger.finish({ partial: flags.partial === true, version: toolVersion() });
  const problems = await finishReporters(reporters, merged);
  const { count, present, missing } = merged.merged;
  if (!flags.quiet) {
    output.stderr(`Merged ${present.length} of ${count} shard${count === 1 ? '' : 's'} (seed ${merged.seed}, ${merged.profile.path}).`);
    if (missing.length > 0)
      output.stderr(`Partial: shard${missing.length === 1 ? '' : 's'} ${missing.map((i) => `${i}/${count}`).join(', ')} missing (--partial); the numbers are those of the shards present.`);
    output.stderr(`Note on the ${merged.merged.note}`);
  }
  if (jsonOnStdout(flags)) output.stderr(formatSummary(merged));
  else output.stdout(formatSummary(merged));
  for (const problem of problems) output.stderr(`fleetsim: ${problem}`);
  if (problems.length > 0) return EXIT.usage;
  return runExitCode(merged, 'duration', undefined);
}
