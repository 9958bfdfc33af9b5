import { compare, isCountMetric, parseThreshold } from '../profile/thresholds.ts';
import type { Threshold } from '../profile/thresholds.ts';
import type { Results, StatsRow, ThresholdResult } from './results.ts';

function rowFor(results: Omit<Results, 'thresholds'>, selector: string | undefined): StatsRow | undefined {
  if (selector === undefined) return results.total;
  return results.stats.find((row) => row.name === selector || `${row.type} ${row.name}` === selector);
}

function valueOf(row: StatsRow, threshold: Threshold): number {
  switch (threshold.metric) {
    case 'failures':
      return row.failures;
    case 'failure_rate':
      return row.requests === 0 ? 0 : row.failures / row.requests;
    case 'requests':
      return row.requests;
    case 'timeouts':
      return row.timeouts;
    case 'rps':
      return row.rps;
    case 'avg':
      return row.latencyMs.mean;
    default:
      return row.latencyMs[threshold.metric];
  }
}

/**
 * A threshold that cannot be evaluated fails: a selector that matches no stats row (a typo) or a
 * latency or rate over zero requests (a run that sent nothing must not pass `p95 < 200ms`).
 */
export function evaluateThresholds(results: Omit<Results, 'thresholds'>, expressions: readonly string[]): ThresholdResult[] {
  return expressions.map((expr) => {
    const threshold = parseThreshold(expr);
    const row = rowFor(results, threshold.selector);
    if (!row) return { expr: threshold.expr, ok: false, value: null, reason: 'no such stats row' };
    if (row.requests === 0 && !isCountMetric(threshold.metric)) return { expr: threshold.expr, ok: false, value: null, reason: 'no requests to measure' };
    const value = valueOf(row, threshold);
    return { expr: threshold.expr, ok: compare(value, threshold.operator, threshold.value), value: Math.round(value * 1e6) / 1e6 };
  });
}
