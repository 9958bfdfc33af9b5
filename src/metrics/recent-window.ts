import { createHistogram } from './histogram.ts';
import type { LatencyHistogram } from './histogram.ts';
import type { RecentRates } from '../contracts/history.ts';
export type { RecentRates } from '../contracts/history.ts';

interface IntervalCounts {
  readonly seconds: number;
  readonly requests: number;
  readonly failures: number;
}

/**
 * Percentiles come from SLOTS histograms of a fifth of the window each (the oldest reused as the
 * ring turns), so they cover between 4/5 of the window and all of it at a fixed cost in memory,
 * whatever the window's length: a histogram per interval would hold 60 of them for a 60-s window.
 */
const SLOTS = 5;

/** Rates over the trailing window, fed one interval at a time (the total row's counts and latency). */
export class RecentWindow {
  private readonly intervals: IntervalCounts[] = [];
  private seconds = 0;
  private requests = 0;
  private failures = 0;
  private readonly slots: LatencyHistogram[] = Array.from({ length: SLOTS }, () => createHistogram());
  private readonly merged = createHistogram();
  private slot = 0;
  private slotSeconds = 0;

  constructor(readonly windowS: number) {}

  push(seconds: number, requests: number, failures: number, latency: LatencyHistogram): RecentRates {
    this.intervals.push({ seconds, requests, failures });
    this.seconds += seconds;
    this.requests += requests;
    this.failures += failures;
    // Keep whole intervals that end inside the window: the window never reaches back past it.
    while (this.intervals.length > 1 && this.seconds - (this.intervals[0] as IntervalCounts).seconds >= this.windowS - 1e-6) {
      const old = this.intervals.shift() as IntervalCounts;
      this.seconds -= old.seconds;
      this.requests -= old.requests;
      this.failures -= old.failures;
    }
    if (this.slotSeconds >= this.windowS / SLOTS) {
      this.slot = (this.slot + 1) % SLOTS;
      (this.slots[this.slot] as LatencyHistogram).reset();
      this.slotSeconds = 0;
    }
    (this.slots[this.slot] as LatencyHistogram).add(latency);
    this.slotSeconds += seconds;
    this.merged.reset();
    for (const slot of this.slots) if (slot.totalCount > 0) this.merged.add(slot);
    const span = Math.max(0.001, this.seconds);
    return {
      windowS: round3(span),
      rps: round3(this.requests / span),
      failuresPerS: round3(this.failures / span),
      latencyMs: percentiles(this.merged),
    };
  }
}

function percentiles(histogram: LatencyHistogram): RecentRates['latencyMs'] {
  if (histogram.totalCount === 0) return { p50: null, p95: null, p99: null };
  const ms = (percentile: number): number => Math.round(Math.min(histogram.maxValue, histogram.getValueAtPercentile(percentile))) / 1000;
  return { p50: ms(50), p95: ms(95), p99: ms(99) };
}

const round3 = (value: number): number => Math.round(value * 1000) / 1000;
