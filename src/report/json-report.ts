import type { Results } from '../metrics/results.ts';
import { writeReportFile } from './atomic-write.ts';
import { checkWritableFile } from './output-path.ts';
import type { Reporter } from './reporter.ts';

/** `--json FILE`: the results as `fleetsim.results/v1`; `--json -` writes them to `stdout` instead. */
export function jsonReporter(file: string, stdout?: (text: string) => void): Reporter {
  if (file === '-') {
    return {
      flag: '--json',
      finish: (results: Results) => {
        stdout?.(JSON.stringify(results, null, 2));
        return Promise.resolve();
      },
    };
  }
  return {
    flag: '--json',
    prepare: () => checkWritableFile('--json', file),
    finish: (results: Results) => writeReportFile(file, `${JSON.stringify(results, null, 2)}\n`),
  };
}
