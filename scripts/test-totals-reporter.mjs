// A node:test reporter that keeps the run's totals in the file named by TEST_TOTALS_FILE, as one
// JSON object: run-tests.mjs reads each group's to print one verdict for the whole suite, last.
// Written synchronously at each count, since --test-force-exit ends the process before a
// reporter's own output stream is flushed.
import { writeFileSync } from 'node:fs';

export default async function* totals(source) {
  const file = process.env.TEST_TOTALS_FILE;
  const counts = {};
  for await (const event of source) {
    if (event.type !== 'test:diagnostic' || event.data.nesting !== 0) continue;
    const match = /^(tests|suites|pass|fail|cancelled|skipped|todo) (\d+)$/.exec(event.data.message);
    if (!match || file === undefined) continue;
    counts[match[1]] = Number(match[2]);
    writeFileSync(file, JSON.stringify(counts));
  }
  yield '';
}
