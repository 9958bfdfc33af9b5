import type { GeneratorHealth } from './generator-monitor.ts';
import { saturationWarning } from './generator-monitor.ts';
import type { StatsRow } from './results.ts';

/** Linux's delayed-ACK timer is 40 ms; acks held back by Nagle's algorithm cluster just above it. */
const BAND_MS = [36, 48] as const;

/**
 * Mosquitto's default `set_tcp_nodelay false` holds back PUBACKs while several publishes are in
 * flight on a connection, so most latencies land near 40 ms whatever the broker's real speed. When
 * a PUBLISH row shows that shape (a median in the band, a tight spread, and some fast acks proving
 * the broker can answer quicker) and the generator was not itself saturated (then its own delay
 * could put the median anywhere, and the saturation warning says so), the run says so instead of
 * reporting the timer as the broker's.
 */
export function nagleWarning(rows: readonly StatsRow[], generator: GeneratorHealth): string | undefined {
  if (saturationWarning(generator)) return undefined;
  const suspect = rows.filter((row) => {
    if (row.type !== 'PUBLISH' || row.requests < 100) return false;
    const { p50, p90, min } = row.latencyMs;
    if (p50 === null || p90 === null || min === null) return false;
    return p50 >= BAND_MS[0] && p50 <= BAND_MS[1] && p90 - p50 < 10 && min < 5;
  });
  if (suspect.length === 0) return undefined;
  const names = suspect.map((row) => `${row.name} (median ${row.latencyMs.p50} ms)`).join(', ');
  return (
    `PUBLISH latencies cluster at about 40 ms: ${names}. That is the signature of Nagle's algorithm holding back acks ` +
    "(Mosquitto's default set_tcp_nodelay false); set 'set_tcp_nodelay true' on the broker, or these latencies measure that delay, not the broker."
  );
}
