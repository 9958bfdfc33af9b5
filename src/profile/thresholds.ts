/**
 * Pass/fail criteria over the results, k6-style: `[selector:] metric op value[unit]`, e.g.
 * `p95 < 200ms`, `POST /data: failures < 1%`, `rps >= 19`. Without a selector the aggregate is used.
 */
export type ThresholdMetric = 'min' | 'avg' | 'max' | 'p50' | 'p66' | 'p75' | 'p80' | 'p90' | 'p95' | 'p98' | 'p99' | 'p999' | 'p9999' | 'failures' | 'failure_rate' | 'requests' | 'rps' | 'timeouts';

export type ThresholdOperator = '<' | '<=' | '>' | '>=' | '==';

export interface Threshold {
  readonly expr: string;
  /** `TYPE name` or just `name`; undefined means the aggregate. */
  readonly selector: string | undefined;
  readonly metric: ThresholdMetric;
  readonly operator: ThresholdOperator;
  /** Milliseconds for latency, a fraction for failure_rate, a plain number otherwise. */
  readonly value: number;
}

const LATENCY = new Set(['min', 'avg', 'max', 'p50', 'p66', 'p75', 'p80', 'p90', 'p95', 'p98', 'p99', 'p999', 'p9999']);
const COUNTS = new Set(['failures', 'requests', 'rps', 'timeouts']);

/** Counts (and rps) are defined over zero requests; latencies and failure_rate are not. */
export function isCountMetric(metric: ThresholdMetric): boolean {
  return COUNTS.has(metric);
}
const EXPRESSION = /^\s*(?:(.+?)\s*:\s*)?([a-z0-9_]+)\s*(<=|>=|==|<|>)\s*(\d+(?:\.\d+)?)\s*(ms|s|%)?\s*$/;

/** k6's spellings of the percentiles fleetsim keeps: `p(95)`, `p(99.9)`, and `med`. */
const K6_PERCENTILES: Readonly<Record<string, string>> = {
  '50': 'p50',
  '66': 'p66',
  '75': 'p75',
  '80': 'p80',
  '90': 'p90',
  '95': 'p95',
  '98': 'p98',
  '99': 'p99',
  '99.9': 'p999',
  '99.99': 'p9999',
  '100': 'max',
};

function fromK6(expr: string): string {
  return expr.replace(/\bp\(\s*(\d+(?:\.\d+)?)\s*\)/g, (whole, percentile: string) => K6_PERCENTILES[percentile] ?? whole).replace(/\bmed\b(?=\s*(?:<|>|=))/g, 'p50');
}

/** Parses one threshold (k6's `p(95)<200` spelling too); throws an Error whose message says what is wrong. */
export function parseThreshold(expr: string): Threshold {
  const normalized = fromK6(expr);
  const unknown = /\bp\(\s*([\d.]+)\s*\)/.exec(normalized);
  if (unknown)
    throw new Error(
      `threshold '${expr}': p(${unknown[1]}) is not a percentile fleetsim keeps (${Object.keys(K6_PERCENTILES)
        .map((key) => `p(${key})`)
        .join(', ')})`,
    );
  const match = EXPRESSION.exec(normalized);
  if (!match) throw new Error(`cannot parse threshold '${expr}' (expected e.g. 'p95 < 200ms', 'POST /data: failures < 1%', 'rps >= 19')`);
  const [, selector, rawMetric = '', operator = '<', number = '0', unit] = match;
  let metric = rawMetric === 'mean' ? 'avg' : rawMetric;
  let value = Number(number);
  if (LATENCY.has(metric)) {
    if (unit === '%') throw new Error(`threshold '${expr}': ${metric} is a latency; use ms or s`);
    if (unit === 's') value *= 1000;
  } else if (COUNTS.has(metric) || metric === 'failure_rate') {
    if (unit === 'ms' || unit === 's') throw new Error(`threshold '${expr}': ${metric} is not a latency`);
    if (metric === 'failures' && unit === '%') metric = 'failure_rate';
    if (metric === 'failure_rate') value = unit === '%' ? value / 100 : value;
  } else {
    throw new Error(`threshold '${expr}': unknown metric '${rawMetric}' (known: ${[...LATENCY, ...COUNTS, 'failure_rate'].join(', ')})`);
  }
  return { expr: expr.trim(), selector: selector?.trim() || undefined, metric: metric as ThresholdMetric, operator: operator as ThresholdOperator, value };
}

export function compare(actual: number, operator: ThresholdOperator, limit: number): boolean {
  switch (operator) {
    case '<':
      return actual < limit;
    case '<=':
      return actual <= limit;
    case '>':
      return actual > limit;
    case '>=':
      return actual >= limit;
    case '==':
      return actual === limit;
  }
}
