import { constants } from 'node:fs';
import { access, stat } from 'node:fs/promises';
import path from 'node:path';
import { UsageError } from '../errors.ts';

/** Refuses, before the run, an output path that names a directory or lies in a directory that cannot be written. */
export async function checkWritableFile(flag: string, file: string): Promise<void> {
  const existing = await stat(file).catch(() => undefined);
  if (existing?.isDirectory()) throw new UsageError(`${flag}: ${file} is a directory; name a file`);
  const dir = path.dirname(path.resolve(file));
  try {
    await access(dir, constants.W_OK);
  } catch {
    throw new UsageError(`${flag}: cannot write ${file}: directory ${dir} does not exist or is not writable`);
  }
}
