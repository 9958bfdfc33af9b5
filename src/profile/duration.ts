/** Timers in Node hold at most 2^31-1 ms (~24.8 days); a longer wait would fire at once. */
export const MAX_DURATION_MS = 24 * 24 * 3_600_000;
export const MAX_DURATION_TEXT = '24 days (576h)';

const UNIT_MS: Readonly<Record<string, number>> = { ms: 1, s: 1000, m: 60_000, h: 3_600_000, d: 86_400_000 };
const SINGLE = /^\s*(\d+(?:\.\d+)?)\s*(ms|s|m|h|d)?\s*$/;
/** Go's and k6's compound form, `1h30m`, `1m30s`, `2s500ms`: parts from the largest unit down. */
const COMPOUND = /^\s*(?:(\d+(?:\.\d+)?)d)?(?:(\d+(?:\.\d+)?)h)?(?:(\d+(?:\.\d+)?)m(?!s))?(?:(\d+(?:\.\d+)?)s)?(?:(\d+(?:\.\d+)?)ms)?\s*$/;
const COMPOUND_UNITS = [86_400_000, 3_600_000, 60_000, 1000, 1] as const;

/** The same grammar as a JSON Schema pattern, for the published schemas. */
export const DURATION_PATTERN = '^(?=\\s*\\d)\\s*(\\d+(\\.\\d+)?\\s*(ms|s|m|h|d)?|(\\d+(\\.\\d+)?d)?(\\d+(\\.\\d+)?h)?(\\d+(\\.\\d+)?m(?!s))?(\\d+(\\.\\d+)?s)?(\\d+(\\.\\d+)?ms)?)\\s*$';

/** Parses `500ms`, `5s`, `2m`, `1h`, `2d`, compounds such as `1m30s` or `1h30m`, or a bare number of seconds; undefined when malformed. */
export function parseDurationMs(value: string | number): number | undefined {
  if (typeof value === 'number') return Number.isFinite(value) && value >= 0 ? value * 1000 : undefined;
  const single = SINGLE.exec(value);
  if (single) return Number(single[1]) * (UNIT_MS[single[2] ?? 's'] ?? 1000);
  const compound = COMPOUND.exec(value);
  if (!compound || compound.slice(1).every((part) => part === undefined)) return undefined;
  return compound.slice(1).reduce((sum, part, i) => sum + (part === undefined ? 0 : Number(part) * COMPOUND_UNITS[i as 0 | 1 | 2 | 3 | 4]), 0);
}

export function formatDuration(ms: number): string {
  if (ms % 3_600_000 === 0 && ms > 0) return `${ms / 3_600_000}h`;
  if (ms % 60_000 === 0 && ms > 0) return `${ms / 60_000}m`;
  if (ms % 1000 === 0) return `${ms / 1000}s`;
  return `${ms}ms`;
}
