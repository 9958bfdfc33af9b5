import { inconclusiveCause } from './load-verdict.ts';
import { compare, isCountMetric, parseThreshold } from '../profile/thresholds.ts';
import type { Threshold } from '../profile/thresholds.ts';
import type { Results, RowSet, StatsRow, ThresholdResult } from './results.ts';

/**
 * A bare threshold reads the row the results name for it; `PUBLISH:` or `PUBLISH Aggregated:`
 * selects a type's aggregate, `Aggregated:` the whole run; anything else a stats row by name or
 * by `TYPE name`.
 */
function rowFor(results: RowSet, selector: string | undefined): StatsRow | undefined {
  const wanted = selector ?? results.bareThresholdsRead;
  if (wanted === 'Aggregated') return results.total;
  const type = results.types.find((row) => row.name === wanted || row.type === wanted);
  if (type) return type;
  return results.stats.find((row) => row.name === wanted || `${row.type} ${row.name}` === wanted);
}

function valueOf(row: StatsRow, threshold: Threshold): number | null {
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
export function evaluateThresholds(results: RowSet, expressions: readonly string[]): ThresholdResult[] {
  return expressions.map((expr) => {
    const threshold = parseThreshold(expr);
    const row = rowFor(results, threshold.selector);
    if (!row) return { expr: threshold.expr, ok: false, value: null, reason: 'no such stats row' };
    const read = { expr: threshold.expr, row: rowLabel(row) };
    if (row.requests === 0 && !isCountMetric(threshold.metric)) return { ...read, ok: false, value: null, reason: 'no requests to measure' };
    const value = valueOf(row, threshold);
    if (value === null) return { ...read, ok: false, value: null, reason: noLatencyReason(row) };
    return { ...read, ok: compare(value, threshold.operator, threshold.value), value: Math.round(value * 1e6) / 1e6 };
  });
}

/** A latency over no answers is no pass: say how the attempts ended instead. */
function noLatencyReason(row: StatsRow): string {
  if (row.failures === 0) return 'no latency samples to measure';
  return `no latency samples to measure: none of ${row.requests} request${row.requests === 1 ? '' : 's'} got an answer (${row.failures} failed, ${row.timeouts} timed out)`;
}

function rowLabel(row: StatsRow): string {
  return row.type === '' || row.name.endsWith(' Aggregated') ? row.name : `${row.type} ${row.name}`;
}

/** The thresholds, marked inconclusive when the load fell short for a reason that is not the target's. */
export function judgedThresholds(results: Omit<Results, 'thresholds'>, expressions: readonly string[]): Results['thresholds'] {
  const judged = evaluateThresholds(results, expressions);
  if (!results.load || !inconclusiveCause(results.load.cause)) return judged;
  return judged.map((threshold) => ({ ...threshold, inconclusive: true }));
}
