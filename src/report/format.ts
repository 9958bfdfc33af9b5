import { parseThreshold } from '../profile/thresholds.ts';
import type { ThresholdResult } from '../metrics/results.ts';

/** A latency in ms as the tables show it; `-` for a row with no samples. */
export function formatMs(ms: number | null): string {
  if (ms === null) return '-';
  if (ms >= 100) return String(Math.round(ms));
  if (ms >= 10) return ms.toFixed(1);
  return ms.toFixed(2);
}

/** A share as a percentage with enough digits to tell 0.04% from 0: `3.94%`, `0.039%`, `0%`. */
export function formatPercent(share: number): string {
  const percent = share * 100;
  if (percent === 0 || percent >= 10) return `${Number(percent.toFixed(1))}%`;
  if (percent >= 0.1) return `${Number(percent.toFixed(2))}%`;
  return `${Number(percent.toPrecision(2))}%`;
}

/**
 * A threshold's measured value in its metric's unit, as the expression reads it: `22.7 ms` for a
 * latency, `3.94%` for a failure rate, `12.5/s` for rps, a bare count for the counts.
 */
export function formatThresholdValue(threshold: Pick<ThresholdResult, 'expr' | 'value'>): string {
  const value = threshold.value;
  if (value === null) return '-';
  let metric: string;
  try {
    metric = parseThreshold(threshold.expr).metric;
  } catch {
    return String(value);
  }
  if (metric === 'failure_rate') return formatPercent(value);
  if (metric === 'rps') return `${Number(value.toFixed(2))}/s`;
  if (metric === 'failures' || metric === 'requests' || metric === 'timeouts') return String(value);
  return `${formatMs(value)} ms`;
}
