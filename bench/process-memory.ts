import { readFileSync } from 'node:fs';
import type { Readable } from 'node:stream';

/** A process's resident set in MB from /proc, or undefined once it has gone. */
export function rssMb(pid: number): number | undefined {
  try {
    const match = /VmRSS:\s+(\d+) kB/.exec(readFileSync(`/proc/${pid}/status`, 'utf8'));
    return match ? Number(match[1]) / 1024 : undefined;
  } catch {
    return undefined;
  }
}

/** A full collection's line from `node --trace-gc`: when (ms since start) and the heap it left, in MB. */
export interface FullGc {
  readonly atMs: number;
  readonly liveMb: number;
}

/**
 * Follows a `node --trace-gc` process's stdout: each full (mark-compact) collection goes to
 * `onFullGc` with the heap it left, which is what the process really retains (RSS only bounds it
 * from above); other lines but GC traces go to `onOther`.
 */
export function followGcTrace(stdout: Readable, onFullGc: (gc: FullGc) => void, onOther: (line: string) => void = () => undefined): void {
  let pending = '';
  stdout.setEncoding('utf8').on('data', (chunk: string) => {
    pending += chunk;
    const lines = pending.split('\n');
    pending = lines.pop() ?? '';
    for (const line of lines) {
      const match = /\s(\d+) ms: Mark-Compact.*?-> ([\d.]+) \(/.exec(line);
      if (match) onFullGc({ atMs: Number(match[1]), liveMb: Number(match[2]) });
      else if (!/ ms: (Scavenge|Mark-Compact|Minor)/.test(line) && line.trim() !== '') onOther(line);
    }
  });
}
