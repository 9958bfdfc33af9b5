import { UsageError } from '../errors.ts';

/**
 * What a split run (`run --workers N`, `coordinate`) does with each `run` flag: `worker` hands it
 * to every worker as given (the plan's shape, seed and thresholds must be the same everywhere),
 * `parent` is done once by the process that merges (outputs, the exit code, the broker probe),
 * `coordinator` is done once by the coordinator (both routes run one), from the merged intervals
 * it is streamed (the live views);
 * `refused` stops the run naming the flag, with why. Keyed by the flag as typed (kebab-case);
 * test/unit/distributed/run-flags.test.ts walks yargs's own list of `run` flags against it, so a
 * new flag cannot be forgotten here.
 */
export type FlagHandling =
  { readonly how: 'worker' } | { readonly how: 'parent'; readonly what: string } | { readonly how: 'coordinator'; readonly what: string } | { readonly how: 'refused'; readonly why: string };

const worker = { how: 'worker' } as const;
const parent = (what: string): FlagHandling => ({ how: 'parent', what });
const refused = (why: string): FlagHandling => ({ how: 'refused', why });
const coordinator = (what: string): FlagHandling => ({ how: 'coordinator', what });

export const SPLIT_RUN_FLAGS: Readonly<Record<string, FlagHandling>> = {
  profile: parent('loads the plan, checks it once, and hands its path and sha256 to the workers'),
  devices: worker,
  'spawn-rate': worker,
  duration: worker,
  iterations: worker,
  seed: worker,
  threshold: worker,
  stage: worker,
  'min-delivered': worker,
  'local-ips': worker,
  'start-at': worker,
  target: parent('starts the embedded HTTP fixture when none is given, and hands every worker the one target'),
  broker: parent('starts the embedded broker when none is given, and hands every worker the one broker'),
  json: parent('writes the merged results'),
  csv: parent('writes the merged CSVs'),
  html: parent('writes the merged HTML report'),
  'log-requests': parent("writes the workers' request logs as one"),
  'exit-code-on-error': parent('exits with it when the merged fleet had a failed attempt'),
  'broker-stats': parent("takes the broker's $SYS figures once, for the whole fleet's window"),
  quiet: parent('no progress lines'),
  workers: parent('the number of shards'),
  shard: refused('the workers are the shards'),
  'metrics-port': coordinator("serves the fleet's metrics, summed from the workers' merged intervals"),
  'metrics-host': coordinator('where --metrics-port listens'),
  ui: coordinator("serves the live page of the merged fleet; its devices control sets the fleet's count, split over the live workers"),
  'ui-port': coordinator('where --ui listens'),
  'ui-host': coordinator('where --ui listens'),
  'ui-token': coordinator("the page's token"),
  'max-devices': refused("a coordinated fleet's ceiling is its size (--devices or the profile's): the page lowers the count and raises it back up to that"),
};

/** yargs's names for a flag that were not typed by anyone: aliases, camelCase twins, its own. */
const YARGS_OWN = new Set(['help', 'version', '$0', '_']);

/**
 * Refuses the first flag `given` holds (yargs's parsed flags, camelCase and kebab-case both) that
 * `mode` cannot honour; `defaults` are the flags yargs filled in that nobody typed; `coordinated`:
 * `mode` is a coordinator, which honours the `coordinator` flags.
 */
export function refuseUnsplittable(given: Readonly<Record<string, unknown>>, mode: string, defaults: ReadonlySet<string> = new Set(), coordinated = false): void {
  for (const [flag, handling] of Object.entries(SPLIT_RUN_FLAGS)) {
    if (handling.how === 'worker' || handling.how === 'parent' || (handling.how === 'coordinator' && coordinated) || defaults.has(flag)) continue;
    const value = given[flag];
    if (value === undefined || value === false) continue;
    throw new UsageError(`--${flag}: not with ${mode}: ${handling.how === 'coordinator' ? 'only a coordinator serves it' : handling.why}`);
  }
}

/** A flag yargs reported that the table does not name (for the test; never at run time). */
export function unlistedFlags(names: readonly string[]): string[] {
  return names.filter((name) => !YARGS_OWN.has(name) && name.length > 1 && !/[A-Z]/.test(name) && !(name in SPLIT_RUN_FLAGS));
}
