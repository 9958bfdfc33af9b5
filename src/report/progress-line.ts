import type { IntervalLoad } from '../metrics/load-verdict.ts';
import { formatMs } from './format.ts';

export interface ProgressState {
  readonly elapsedMs: number;
  /** The run's planned length, when it has one. */
  readonly totalMs: number | undefined;
  readonly devicesOnline: number;
  readonly devicesTarget: number;
  /** The window that rates and percentiles cover, in seconds. */
  readonly windowS: number;
  readonly rps: number;
  readonly failuresPerS: number;
  readonly latencyMs: { readonly p50: number | null; readonly p95: number | null; readonly p99: number | null };
  /** The most frequent failure so far, if any. */
  readonly topError: { readonly label: string; readonly count: number } | undefined;
  /** The share of the offered load delivered over its trailing window, and whose limit a shortfall is. */
  readonly load?: IntervalLoad | undefined;
}

/** The line's parts, the essential first: each richer form is tried before a shorter one, the last ones dropped first. */
function parts(state: ProgressState): { readonly head: string; readonly optional: readonly (readonly string[])[] } {
  const seconds = (ms: number): string => `${Math.round(ms / 1000)}s`;
  const elapsed = state.totalMs === undefined ? seconds(state.elapsedMs) : `${seconds(state.elapsedMs)}/${seconds(state.totalMs)}`;
  const latency = state.latencyMs;
  const window = `(last ${Number(state.windowS.toFixed(1))}s)`;
  const head = `[${elapsed}] devices ${state.devicesOnline}/${state.devicesTarget}  ${state.rps.toFixed(1)} req/s`;
  const load = state.load;
  const cause = load?.cause && load.cause !== 'delivered' ? ` (${load.cause})` : '';
  const sameWindow = load !== undefined && Math.abs(load.windowS - state.windowS) < 0.5;
  const delivered =
    load?.deliveredShare == null
      ? []
      : [`delivered ${Math.round(load.deliveredShare * 100)}%${cause}${sameWindow ? '' : ` over ${Math.round(load.windowS)}s`}`, `delivered ${Math.round(load.deliveredShare * 100)}%${cause}`];
  const error = state.topError;
  return {
    head,
    optional: [
      [
        `${state.failuresPerS.toFixed(1)} fail/s  p50/p95/p99 ${formatMs(latency.p50)}/${formatMs(latency.p95)}/${formatMs(latency.p99)} ms ${window}`,
        `${state.failuresPerS.toFixed(1)} fail/s  p95 ${formatMs(latency.p95)} ms ${window}`,
        window,
      ],
      delivered,
      error ? [`top error: ${error.label} ×${error.count}`, `top error ×${error.count}`] : [],
    ],
  };
}

/**
 * Which form of each optional part (latency, delivered, top error) a line uses, richest first;
 * -1 leaves the part out. A narrower terminal takes the first that fits: the top error shortens
 * and goes before the percentiles narrow to p95, and the delivered share stays longest.
 */
const LADDER: readonly (readonly [number, number, number])[] = [
  [0, 0, 0],
  [0, 0, 1],
  [0, 1, 1],
  [0, 1, -1],
  [1, 1, 1],
  [1, 1, -1],
  [1, -1, -1],
  [2, 1, -1],
  [2, -1, -1],
];

/**
 * One progress line: rates and percentiles over the same window. With `width` (a terminal's
 * columns), the line fits in it, so a redraw in place never wraps.
 */
export function formatProgress(state: ProgressState, width?: number): string {
  const { head, optional } = parts(state);
  let line = head;
  for (const step of LADDER) {
    line = [head, ...step.flatMap((form, i) => (form < 0 ? [] : (optional[i]?.[Math.min(form, (optional[i]?.length ?? 1) - 1)] ?? [])))].join('  ');
    if (width === undefined || [...line].length <= width) return line;
  }
  return fitWidth(line, width);
}

/** A line cut to `width` characters with an ellipsis: the last resort for a very narrow terminal. */
export function fitWidth(line: string, width: number | undefined): string {
  if (width === undefined) return line;
  const chars = [...line];
  if (chars.length <= width) return line;
  return width <= 1 ? chars.slice(0, Math.max(0, width)).join('') : `${chars.slice(0, width - 1).join('')}…`;
}
