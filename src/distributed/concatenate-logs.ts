import { createReadStream, createWriteStream, existsSync } from 'node:fs';
import { pipeline } from 'node:stream/promises';

/** The workers' request logs, one after another, into the run's log; a worker that wrote none is skipped. */
export async function concatenateLogs(files: readonly string[], target: string): Promise<void> {
  const out = createWriteStream(target);
  for (const file of files) if (file !== '' && existsSync(file)) await pipeline(createReadStream(file), out, { end: false });
  await new Promise<void>((resolve, reject) => out.end((error?: Error | null) => (error ? reject(error) : resolve())));
}
