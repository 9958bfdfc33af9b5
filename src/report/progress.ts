import type { Engine } from '../engine/engine.ts';
import type { HistoryPoint } from '../metrics/history.ts';
import type { StatsEntry } from '../metrics/stats.ts';
import { formatProgress } from './progress-line.ts';

/** Where progress goes: `progress` redraws one line in place (a terminal); without it, plain lines on stderr. */
export interface ProgressSink {
  stderr(text: string): void;
  progress?(line: string): void;
  /** The terminal's width in columns, when progress is drawn on one: the line is fitted to it. */
  columns?(): number | undefined;
  /** Ends a line drawn in place, so what follows starts on its own line. */
  endProgress?(): void;
}

const EVERY_INTERVALS = 2;

/**
 * The live console: every 2 s, elapsed time, devices online against target, and the rates and
 * percentiles over the same trailing window (the delivered share's), with the most frequent
 * failure so far; on a terminal, fitted to its width.
 */
export class ProgressReporter {
  private intervals = 0;
  private engine: Engine | undefined;
  private readonly onInterval = (point: HistoryPoint): void => {
    if (++this.intervals % EVERY_INTERVALS !== 0 || this.engine?.stopping) return;
    // The trailing window's rates: one interval of a paced fleet reads 30, 0, 15, 0 req/s.
    const recent = point.recent ?? { windowS: point.intervalS, rps: point.total.rps, failuresPerS: point.total.failuresPerS, latencyMs: point.total.latencyMs };
    const columns = this.sink.progress ? this.sink.columns?.() : undefined;
    const line = formatProgress(
      {
        elapsedMs: point.atS * 1000,
        totalMs: this.totalMs,
        devicesOnline: point.devicesOnline,
        devicesTarget: point.devicesTarget,
        windowS: recent.windowS,
        rps: recent.rps,
        failuresPerS: recent.failuresPerS,
        latencyMs: recent.latencyMs,
        topError: topError(this.engine?.stats.entries ?? []),
        load: point.load,
      },
      // The last column left free: some terminals wrap a line that fills it.
      columns === undefined || columns <= 0 ? undefined : columns - 1,
    );
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
