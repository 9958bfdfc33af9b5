import { createWriteStream } from 'node:fs';
import type { WriteStream } from 'node:fs';
import { once } from 'node:events';
import type { Engine } from '../engine/engine.ts';
import { UsageError } from '../errors.ts';
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
    ...(record.error === undefined ? {} : { error: record.error }),
  })}\n`;
}

/** Writes every attempt to an NDJSON file; `close` flushes, so an interrupted run keeps what it did. */
export class RequestLog {
  private readonly stream: WriteStream;
  private pending = '';
  private engine: Engine | undefined;
  private readonly onAttempt = (record: AttemptRecord): void => {
    this.pending += requestLogLine(record);
    if (this.pending.length > 65_536) this.flush();
  };

  constructor(readonly file: string) {
    this.stream = createWriteStream(file);
  }

  attach(engine: Engine): void {
    this.engine = engine;
    engine.on('attempt', this.onAttempt);
  }

  /** Resolves once the file is open; a path that cannot be written is a usage error, before the run starts. */
  async opened(): Promise<void> {
    if (!this.stream.pending) return;
    try {
      await Promise.race([once(this.stream, 'ready'), once(this.stream, 'error').then(([error]) => Promise.reject(error as Error))]);
    } catch (error) {
      throw new UsageError(`--log-requests: cannot write ${this.file}: ${(error as NodeJS.ErrnoException).code ?? (error as Error).message}`);
    }
  }

  private flush(): void {
    if (this.pending) this.stream.write(this.pending);
    this.pending = '';
  }

  async close(): Promise<void> {
    this.engine?.off('attempt', this.onAttempt);
    this.flush();
    this.stream.end();
    await once(this.stream, 'finish');
  }
}
