import { randomBytes } from 'node:crypto';
import { rename, rm, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { fileErrorReason } from '../errors.ts';

/**
 * Writes a whole file or nothing: the data goes to a temporary file beside the target, which then
 * replaces it in one rename, so a crash or a Ctrl-C never leaves a half-written report.
 */
export async function writeFileAtomic(file: string, data: string): Promise<void> {
  const target = path.resolve(file);
  const temporary = path.join(path.dirname(target), `.${path.basename(target)}.${process.pid}.${randomBytes(4).toString('hex')}.tmp`);
  try {
    await writeFile(temporary, data);
    await rename(temporary, target);
  } catch (error) {
    await rm(temporary, { force: true }).catch(() => undefined);
    throw error;
  }
}

/** `writeFileAtomic`, failing with a message that says what failed and where (`disk full (ENOSPC) writing out.json`). */
export async function writeReportFile(file: string, data: string): Promise<void> {
  try {
    await writeFileAtomic(file, data);
  } catch (error) {
    throw new Error(`${fileErrorReason(error)} writing ${file}`, { cause: error });
  }
}
