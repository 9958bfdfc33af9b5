import { createWriteStream } from 'node:fs';
import { truncate } from 'node:fs/promises';
import type { WriteStream } from 'node:fs';
import { once } from 'node:events';
import { finished } from 'node:stream/promises';
import type { Engine } from '../engine/engine.ts';
import { fileErrorReason, UsageError } from '../errors.ts';
import type { AttemptRecord } from '../engine/events.ts';

/** Serialises one attempt as the request-log contract's NDJSON line (fixed key order). */
export function requestLogLine(record: AttemptRecord): string {
  return `${JSON.stringify({
    device: record.device,
    seq: record.seq,
    type: record.type,
    name: record.name,
    target: record.target,
    body: record.body,
    outcome: record.outcome,
    latencyMs: record.latencyMs,
    intendedAtMs: record.intendedAtMs,
    doneAtMs: record.doneAtMs,
    ...(record.error === undefined ? {} : { error: record.error }),
    ...(record.anomalies === undefined ? {} : { anomalies: record.anomalies }),
  })}\n`;
}

/** Writes every attempt to an NDJSON file; `close` flushes, so an interrupted run keeps what it did. */
export class RequestLog {
  private readonly stream: WriteStream;
  private pending = '';
  private engine: Engine | undefined;
  /** The first write error (a full disk, say); from then on lines are dropped and `close` reports it. */
  private failure: NodeJS.ErrnoException | undefined;
  /** Bytes of the flushes the file took whole: each ends a line, so a failed log is cut back to here. */
  private committed = 0;
  private readonly onAttempt = (record: AttemptRecord): void => {
    if (this.failure) return;
    this.pending += requestLogLine(record);
    if (this.pending.length > 65_536) this.flush();
  };

  constructor(readonly file: string) {
    this.stream = createWriteStream(file);
    this.stream.on('error', (error) => {
      this.failure ??= error;
    });
  }

  attach(engine: Engine): void {
    this.engine = engine;
    engine.on('attempt', this.onAttempt);
  }

  /** Resolves once the file is open; a path that cannot be written is a usage error, before the run starts. */
  async opened(): Promise<void> {
    if (this.stream.pending) await Promise.race([once(this.stream, 'ready'), once(this.stream, 'close')]);
    if (this.failure) throw new UsageError(this.problem(this.failure));
  }

  private problem(failure: Error): string {
    return `--log-requests: ${fileErrorReason(failure)} writing ${this.file}`;
  }

  private flush(): void {
    if (this.pending && !this.failure) {
      // Once per 64 KB, not per line: counted in bytes, as the file holds them.
      const bytes = Buffer.byteLength(this.pending);
      this.stream.write(this.pending, (error) => {
        if (!error) this.committed += bytes;
      });
    }
    this.pending = '';
  }

  /** Flushes and closes; resolves with what went wrong while writing, if anything, so other outputs are still written. */
  async close(): Promise<string | undefined> {
    this.engine?.off('attempt', this.onAttempt);
    this.flush();
    if (!this.stream.destroyed) {
      this.stream.end();
      await finished(this.stream).catch(() => undefined);
    }
    if (!this.failure) return undefined;
    // A write that failed part-way left half a line: the log ends on the last whole one. (A device
    // such as /dev/full cannot be truncated, and has nothing to cut.)
    await truncate(this.file, this.committed).catch(() => undefined);
    return this.problem(this.failure);
  }
}
