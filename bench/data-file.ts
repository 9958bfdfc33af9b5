import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { createWriteStream } from 'node:fs';
import { finished } from 'node:stream/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { DataTable } from '../src/profile/data-file.ts';

/**
 * How fast and how compactly a data file loads: `npm run bench:data [rows]` writes a CSV of
 * 1,000,000 rows of three short columns (id, key, site) by default, reads it as a run does, and
 * prints the time and the memory the table holds (heap and external, after a full GC).
 */
const rows = Number(process.argv[2] ?? 1_000_000);
const dir = await mkdtemp(path.join(tmpdir(), 'fleetsim-data-'));
const file = path.join(dir, 'devices.csv');
try {
  const out = createWriteStream(file);
  out.write('device_id,api_key,site\n');
  for (let i = 0; i < rows; i++) out.write(`dev-${i.toString(16).padStart(8, '0')},k${(i * 2654435761) % 4294967296},site-${i % 97}\n`);
  out.end();
  await finished(out);
  const gc = (globalThis as { gc?: () => void }).gc;
  if (!gc) throw new Error('run with node --expose-gc (npm run bench:data does)');
  gc();
  const before = process.memoryUsage();
  const started = process.hrtime.bigint();
  const table = await DataTable.read(file);
  const seconds = Number(process.hrtime.bigint() - started) / 1e9;
  gc();
  const after = process.memoryUsage();
  const mb = (bytes: number): string => `${(bytes / 1048576).toFixed(1)} MB`;
  console.log(`bench:data: ${table.rows} rows × ${table.columns.length} columns (${table.columns.join(', ')}) read in ${seconds.toFixed(2)} s`);
  console.log(`  held: heap +${mb(after.heapUsed - before.heapUsed)}, external +${mb(after.external + after.arrayBuffers - before.external - before.arrayBuffers)}; process RSS ${mb(after.rss)}`);
  console.log(`  row ${rows - 1}: ${table.columns.map((_, column) => table.value(rows - 1, column)).join(', ')}`);
  await writeFile(path.join(dir, 'done'), '');
} finally {
  await rm(dir, { recursive: true, force: true });
}
