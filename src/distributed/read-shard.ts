import { readFileSync } from 'node:fs';
import { fileErrorReason } from '../errors.ts';
import type { Results } from '../metrics/results.ts';
import { MergeError } from './merge.ts';
import type { ShardResults } from './merge.ts';

/**
 * A shard's results file, parsed, for `ShardMerger.add` (which refuses a foreign one); a file that
 * cannot be read or is not JSON is a MergeError naming it. `source` is how messages and the merged
 * `shards` name it (the file itself unless given). Read synchronously, one after another: merge has
 * nothing to do meanwhile, and a hundred parallel reads through the thread pool took half as long
 * again as this (bench:merge).
 */
export function readShard(file: string, source: string = file): ShardResults {
  let text: string;
  try {
    text = readFileSync(file, 'utf8');
  } catch (error) {
    throw new MergeError(`${source}: cannot read it (${fileErrorReason(error)})`);
  }
  try {
    return { source, results: JSON.parse(text) as Results };
  } catch (error) {
    throw new MergeError(`${source}: not JSON (${(error as Error).message})`);
  }
}
