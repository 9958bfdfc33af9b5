import { closeSync, openSync } from 'node:fs';
import type { Registry } from 'prom-client';
import { deviceRandom } from '../src/identity/rng.ts';
import type { Random } from '../src/identity/rng.ts';
import { RunStats } from '../src/metrics/stats.ts';
import { createFleetRegistry } from '../src/report/prometheus-metrics.ts';
import type { MetricsSource } from '../src/report/prometheus-metrics.ts';

/**
 * What one Prometheus scrape costs the generator's event loop: `npm run bench:scrape [rows] [samples per row]`.
 * Fills `rows` stats rows (default 100) with latencies shaped like a real target's (log-normal
 * body, a slow tail, a few timeouts at 5 s), then times 50 scrapes of the fleet's own metrics,
 * and of the full registry (with prom-client's process metrics) at a few and at 5,000 open file
 * descriptors: prom-client's descriptor count lists /proc/self/fd, so fleetsim leaves it out, and
 * the second case shows nothing else grows with them.
 */
const rows = Number(process.argv[2] ?? 100);
const samplesPerRow = Number(process.argv[3] ?? 20_000);
const SCRAPES = 50;
const WARMUP = 5;
const OPEN_FDS = 5_000;

/** Log-normal around `medianMs` with spread `sigma`, in µs (Box-Muller over the seeded stream). */
function logNormalMicros(random: Random, medianMs: number, sigma: number): number {
  const normal = Math.sqrt(-2 * Math.log(1 - random())) * Math.cos(2 * Math.PI * random());
  return medianMs * 1000 * Math.exp(sigma * normal);
}

function fill(stats: RunStats): void {
  const methods = ['GET', 'POST', 'PUT', 'PUBLISH', 'CONNECT'];
  for (let row = 0; row < rows; row++) {
    const random = deviceRandom('bench-scrape', row);
    const entry = stats.entryFor(methods[row % methods.length] ?? 'GET', `/api/v1/resource-${row}`);
    const medianMs = 0.5 + random() * 40;
    for (let i = 0; i < samplesPerRow; i++) {
      const roll = random();
      if (roll < 0.002) entry.record('timeout', 'timeout: no answer in 5000 ms', 5_000_000, -1, 0, false);
      else if (roll < 0.01) entry.record('failure', 'HTTP 503', logNormalMicros(random, medianMs / 2, 0.5), -1, 64, false);
      else entry.record('ok', undefined, roll > 0.995 ? logNormalMicros(random, medianMs * 20, 1) : logNormalMicros(random, medianMs, 0.6), -1, 512, false);
    }
  }
}

interface Timing {
  /** The longest the event loop went without a turn during the scrape: what the devices wait. */
  readonly blockedMs: number;
  /** From the call to the text, idle turns included. */
  readonly totalMs: number;
  /** CPU time of the process over the scrape: what contention on a shared machine does not inflate as much. */
  readonly cpuMs: number;
}

/** One scrape, with a probe that runs every turn of the loop and keeps the longest gap between turns. */
async function scrapeOnce(registry: Registry): Promise<Timing & { bytes: number }> {
  let longest = 0;
  let previous = performance.now();
  let running = true;
  const probe = (): void => {
    const now = performance.now();
    longest = Math.max(longest, now - previous);
    previous = now;
    if (running) setImmediate(probe);
  };
  setImmediate(probe);
  const start = performance.now();
  const cpu = process.cpuUsage();
  const text = await registry.metrics();
  const totalMs = performance.now() - start;
  const used = process.cpuUsage(cpu);
  running = false;
  // The probe's last gap ends when the scrape's last step does.
  longest = Math.max(longest, performance.now() - previous);
  return { blockedMs: longest, totalMs, cpuMs: (used.user + used.system) / 1000, bytes: text.length };
}

const median = (values: readonly number[]): number => {
  const sorted = [...values].sort((a, b) => a - b);
  return ((sorted[(sorted.length - 1) >> 1] ?? 0) + (sorted[sorted.length >> 1] ?? 0)) / 2;
};

async function time(registry: Registry, stats: RunStats): Promise<void> {
  const timings: Timing[] = [];
  let bytes = 0;
  for (let i = 0; i < WARMUP + SCRAPES; i++) {
    // A live run changes every row between scrapes: one more sample each, so no row's last reading is reused.
    for (const entry of stats.entries) entry.record('ok', undefined, 1_000 + i, -1, 512, false);
    const timing = await scrapeOnce(registry);
    if (i >= WARMUP) timings.push(timing);
    bytes = timing.bytes;
  }
  const blocked = timings.map((timing) => timing.blockedMs);
  const total = timings.map((timing) => timing.totalMs);
  const cpu = timings.map((timing) => timing.cpuMs);
  const ms = (value: number): string => `${value.toFixed(2)} ms`.padStart(9);
  console.log(
    `  event loop blocked: median ${ms(median(blocked))}, max ${ms(Math.max(...blocked))}   whole scrape: median ${ms(median(total))}, max ${ms(Math.max(...total))}` +
      `   CPU: median ${ms(median(cpu))}, max ${ms(Math.max(...cpu))}   ${(bytes / 1024).toFixed(0)} KiB`,
  );
}

const stats = new RunStats();
const filling = process.hrtime.bigint();
fill(stats);
const fillS = Number(process.hrtime.bigint() - filling) / 1e9;
const source: MetricsSource = { entries: stats.entries, devicesOnline: 1000, devicesTarget: 1000, generator: { busyPercent: 42, lagP99Ms: 3.2 } };

console.log(`${rows} rows × ${samplesPerRow} samples (filled in ${fillS.toFixed(1)} s); ${SCRAPES} scrapes each after ${WARMUP} warm-up scrapes`);
// Only the fleet's own metrics.
console.log('fleet metrics (counters, HDR histograms, gauges)');
await time(
  createFleetRegistry(() => source, { processMetrics: false }),
  stats,
);
const full = createFleetRegistry(() => source, { processMetrics: true });
// The process metrics wait a turn of the loop to sample its lag: the whole scrape includes it.
console.log('with prom-client process metrics');
await time(full, stats);
const fds: number[] = [];
try {
  for (let i = 0; i < OPEN_FDS; i++) fds.push(openSync('/dev/null', 'r'));
  console.log(`with prom-client process metrics, ${OPEN_FDS} open file descriptors`);
  await time(full, stats);
} catch (error) {
  console.log(`(skipped the open-descriptor case: ${(error as Error).message})`);
} finally {
  for (const fd of fds) closeSync(fd);
}
