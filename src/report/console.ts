import type { Results, StatsRow } from '../metrics/results.ts';

function pad(text: string, width: number, right = false): string {
  return right ? text.padStart(width) : text.padEnd(width);
}

function formatMs(ms: number): string {
  if (ms >= 100) return String(Math.round(ms));
  if (ms >= 10) return ms.toFixed(1);
  return ms.toFixed(2);
}

const COLUMNS = ['Type', 'Name', '# reqs', '# fails', 'Median', 'Avg', 'Min', 'Max', '90%ile', '95%ile', '99%ile', 'req/s'] as const;

function cells(row: StatsRow): string[] {
  const failurePct = row.requests === 0 ? 0 : (row.failures / row.requests) * 100;
  return [
    row.type,
    row.name,
    String(row.requests),
    `${row.failures}(${failurePct.toFixed(2)}%)`,
    formatMs(row.latencyMs.p50),
    formatMs(row.latencyMs.mean),
    formatMs(row.latencyMs.min),
    formatMs(row.latencyMs.max),
    formatMs(row.latencyMs.p90),
    formatMs(row.latencyMs.p95),
    formatMs(row.latencyMs.p99),
    row.rps.toFixed(2),
  ];
}

/** A Locust-style end-of-run table (latencies in ms), then failures, generator health, thresholds and warnings. */
export function formatSummary(results: Results): string {
  const rows = [...results.stats.map(cells), cells(results.total)];
  const widths = COLUMNS.map((title, i) => Math.max(title.length, ...rows.map((row) => (row[i] ?? '').length)));
  const line = (values: readonly string[]): string => values.map((value, i) => pad(value, widths[i] ?? 0, i >= 2)).join('  ').trimEnd();
  const rule = '-'.repeat(widths.reduce((a, b) => a + b + 2, -2));
  const out: string[] = [line(COLUMNS), rule];
  for (const row of rows.slice(0, -1)) out.push(line(row));
  out.push(rule, line(rows[rows.length - 1] ?? []));
  const drained = results.durationS - results.activeS >= 0.1 ? ` (${results.activeS}s of load, then draining)` : '';
  out.push('', `Latencies in ms (HDR histograms, microsecond resolution). ${results.durationS}s${drained}, seed ${results.seed}, ${results.devices.started}/${results.devices.target} devices started.`);
  const paced = results.stats.filter((row) => row.intendedLatencyMs);
  if (paced.length > 0) {
    const late = paced.reduce((sum, row) => sum + row.late, 0);
    const missed = paced.reduce((sum, row) => sum + row.missed, 0);
    const intended = results.total.intendedLatencyMs;
    out.push(`Paced tasks: ${late} started late, ${missed} ticks missed; p99 from the intended start ${intended ? formatMs(intended.p99) : '-'} ms.`);
  }
  if (results.failures.length > 0) {
    out.push('', 'Failures:');
    for (const failure of results.failures) out.push(`  ${failure.count} × ${failure.type} ${failure.name}: ${failure.error}`);
  }
  if (results.total.lateAcks > 0) {
    out.push('', `${results.total.lateAcks} MQTT acks arrived after their timeout; those attempts count as timeouts, not successes.`);
  }
  const mqttRows = results.stats.filter((row) => row.type === 'CONNECT');
  if (mqttRows.length > 0 && results.devices.onlineOverTime && results.devices.onlineOverTime.length > 0) {
    const online = results.devices.onlineOverTime.map(([, count]) => count);
    out.push('', `Devices online: ${results.devices.online} of ${results.devices.target} when the run began to stop (peak ${Math.max(...online)}).`);
    if (typeof results.devices.timeToAllOnlineMs === 'number') out.push(`All devices of the first target were online ${results.devices.timeToAllOnlineMs / 1000}s after the start.`);
  }
  const downlink = results.downlink;
  if (downlink && downlink.received > 0) {
    const dropped = downlink.reactionsDropped > 0 ? `, ${downlink.reactionsDropped} dropped because the device's reaction queue was full` : '';
    out.push('', `Downlink: ${downlink.received} messages received by devices, ${downlink.reactionsQueued} ran a reaction${dropped}.`);
  }
  if (results.abandoned > 0) {
    out.push('', `${results.abandoned} attempts were still in flight when the drain timeout ended; they were aborted and are in no row above.`);
  }
  const generator = results.generator;
  const processCpu = generator.processCpuPercent !== undefined && generator.processCpuPercent !== generator.cpuPercent ? ` (whole process ${generator.processCpuPercent}%)` : '';
  out.push('', `Generator: CPU ${generator.cpuPercent}% of a core${processCpu}, max RSS ${Math.round(generator.maxRssBytes / 1048576)} MB, event loop ${generator.eventLoopBusyPercent === undefined ? '' : `busy ${generator.eventLoopBusyPercent}%, `}lag p99 ${generator.eventLoopLagP99Ms} ms.`);
  if (results.thresholds.length > 0) {
    out.push('', 'Thresholds:');
    for (const threshold of results.thresholds) out.push(`  ${threshold.ok ? 'ok  ' : 'FAIL'} ${threshold.expr} (${threshold.value === null ? (threshold.reason ?? 'not evaluable') : threshold.value})`);
  }
  for (const warning of results.warnings) out.push('', `Warning: ${warning}`);
  return out.join('\n');
}

export interface ProgressState {
  readonly elapsedMs: number;
  readonly devicesOnline: number;
  readonly devicesTarget: number;
  readonly requests: number;
  readonly failures: number;
  readonly intervalRps: number;
  /** Undefined when nothing finished in the interval. */
  readonly intervalP95Ms: number | undefined;
}

/** One line for stderr every couple of seconds. */
export function formatProgress(state: ProgressState): string {
  const seconds = (state.elapsedMs / 1000).toFixed(0).padStart(4);
  return `[${seconds}s] devices ${state.devicesOnline}/${state.devicesTarget}  requests ${state.requests}  failures ${state.failures}  ${state.intervalRps.toFixed(1)} req/s  p95 ${state.intervalP95Ms === undefined ? '-' : `${formatMs(state.intervalP95Ms)} ms`}`;
}
