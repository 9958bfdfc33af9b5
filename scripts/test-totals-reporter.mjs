// A node:test reporter that keeps the run's totals, and the time each file's tests took, in the
// file named by TEST_TOTALS_FILE as one JSON object: run-tests.mjs reads each group's to print the
// slowest files and one verdict for the whole suite, last. Written synchronously at each count,
// since --test-force-exit ends the process before a reporter's own output stream is flushed.
import { writeFileSync } from 'node:fs';

export default async function* totals(source) {
  const file = process.env.TEST_TOTALS_FILE;
  const counts = {};
  const files = {};
  for await (const event of source) {
    if (file === undefined || event.data?.nesting !== 0) continue;
    if ((event.type === 'test:pass' || event.type === 'test:fail') && event.data.file !== undefined) {
      files[event.data.file] = (files[event.data.file] ?? 0) + (event.data.details?.duration_ms ?? 0);
      continue;
    }
    if (event.type !== 'test:diagnostic') continue;
    const match = /^(tests|suites|pass|fail|cancelled|skipped|todo) (\d+)$/.exec(event.data.message);
    if (!match) continue;
    counts[match[1]] = Number(match[2]);
    writeFileSync(file, JSON.stringify({ ...counts, files }));
  }
  yield '';
}
