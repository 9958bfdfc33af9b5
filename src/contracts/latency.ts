/** The percentiles every latency summary carries (metrics/histogram.ts's PERCENTILES computes them). */
export type PercentileKey = 'p50' | 'p66' | 'p75' | 'p80' | 'p90' | 'p95' | 'p98' | 'p99' | 'p999' | 'p9999';

/** Milliseconds; every field is null when nothing was recorded (a row without samples has no latency, not 0). */
export type LatencySummary = { min: number | null; mean: number | null; max: number | null } & Record<PercentileKey, number | null>;
