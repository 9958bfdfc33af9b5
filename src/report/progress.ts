import type { Engine } from '../engine/engine.ts';
import type { HistoryPoint } from '../metrics/history.ts';
import type { StatsEntry } from '../metrics/stats.ts';
import { formatProgress } from './console.ts';

/** Where progress goes: `progress` redraws one line in place (a terminal); without it, plain lines on stderr. */
export interface ProgressSink {
  stderr(text: string): void;
  progress?(line: string): void;
  /** Ends a line drawn in place, so what follows starts on its own line. */
  endProgress?(): void;
}

const EVERY_INTERVALS = 2;

/**
 * The live console: every 2 s, elapsed time, devices online against target, and the rates and
 * percentiles of the same, latest interval, with the most frequent failure so far.
 */
export class ProgressReporter {
  private intervals = 0;
  private engine: Engine | undefined;
  private readonly onInterval = (point: HistoryPoint): void => {
    if (++this.intervals % EVERY_INTERVALS !== 0 || this.engine?.stopping) return;
    const line = formatProgress({
      elapsedMs: point.atS * 1000,
      totalMs: this.totalMs,
      devicesOnline: point.devicesOnline,
      devicesTarget: point.devicesTarget,
      windowS: point.intervalS,
      rps: point.total.rps,
      failuresPerS: point.total.failuresPerS,
      latencyMs: point.total.latencyMs,
      topError: topError(this.engine?.stats.entries ?? []),
      load: point.load,
    });
    if (this.sink.progress) this.sink.progress(line);
    else this.sink.stderr(line);
  };

  constructor(
    private readonly sink: ProgressSink,
    private readonly totalMs: number | undefined,
  ) {}

  attach(engine: Engine): void {
    this.engine = engine;
    engine.on('interval', this.onInterval);
  }

  end(): void {
    this.engine?.off('interval', this.onInterval);
    this.sink.endProgress?.();
  }
}

/** The most frequent failure label so far, over every row. */
export function topError(entries: readonly StatsEntry[]): { label: string; count: number } | undefined {
  let best: { label: string; count: number } | undefined;
  for (const entry of entries) {
    for (const [label, count] of entry.errors) if (!best || count > best.count) best = { label, count };
  }
  return best;
}
