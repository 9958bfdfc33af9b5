import { lifecycleAndLinkLines } from './field-console.ts';
import type { Results, StatsRow } from '../metrics/results.ts';
import { deliveryLines } from './delivery-console.ts';
import { formatMs, formatThresholdValue } from './format.ts';

export { formatMs } from './format.ts';
export { formatProgress } from './progress-line.ts';
export type { ProgressState } from './progress-line.ts';

function pad(text: string, width: number, right = false): string {
  return right ? text.padStart(width) : text.padEnd(width);
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

function thresholdLines(results: Results): string[] {
  if (results.thresholds.length === 0) return [];
  const out = ['Thresholds:'];
  for (const threshold of results.thresholds) {
    const read = threshold.row && threshold.row !== 'Aggregated' ? ` on ${threshold.row}` : '';
    const value = threshold.value === null ? (threshold.reason ?? 'not evaluable') : formatThresholdValue(threshold);
    const mark = threshold.inconclusive ? (threshold.ok ? 'ok? ' : 'FAIL?') : threshold.ok ? 'ok  ' : 'FAIL';
    out.push(`  ${mark} ${threshold.expr} (${value}${read})`);
  }
  if (results.thresholds.some((threshold) => threshold.inconclusive)) out.push("  ('?': inconclusive, the load was not delivered for a reason that is not the target's)");
  return out;
}

/** What the load check says in the verdict line, or undefined when there is nothing to check. */
function loadVerdictPart(results: Results): string | undefined {
  const load = results.load;
  if (!load || load.floor === null || load.deliveredShare === null) return undefined;
  const share = `${Math.round(load.deliveredShare * 1000) / 10}% of the offered load delivered`;
  switch (load.cause) {
    case 'delivered':
      return share;
    case 'target':
      return `FAILED: ${share}, the target's limit`;
    case 'generator':
      return `INCONCLUSIVE: ${share}, fleetsim's own loop was the limit`;
    case 'host':
      return `INCONCLUSIVE: ${share}, the machine's CPU was the limit`;
    case 'queues':
      return `INCONCLUSIVE: ${share}, fleetsim's connection pool was the limit`;
  }
}

/** `2 thresholds: 1 failed; 99.8% of the offered load delivered`: the run's last line. */
export function thresholdVerdict(results: Results): string | undefined {
  const count = results.thresholds.length;
  const failed = results.thresholds.filter((threshold) => !threshold.ok).length;
  const inconclusive = results.thresholds.some((threshold) => threshold.inconclusive);
  const thresholds = count === 0 ? undefined : `${count} threshold${count === 1 ? '' : 's'}: ${failed === 0 ? 'all passed' : `${failed} failed`}${inconclusive ? ' (inconclusive)' : ''}`;
  const parts = [thresholds, loadVerdictPart(results)].filter((part): part is string => part !== undefined);
  return parts.length === 0 ? undefined : parts.join('; ');
}

/** The load offered against the load delivered, whose limit a shortfall was, and what to do. */
function loadLines(results: Results): string[] {
  const load = results.load;
  if (!load) return [];
  const out = [`Load: ${load.summary}.`];
  const short = Object.entries(load.intervals).filter(([cause, count]) => cause !== 'delivered' && count > 0);
  if (short.length > 0)
    out.push(`  Intervals short of the offered load: ${short.map(([cause, count]) => `${count} ${cause}`).join(', ')} (of ${Object.values(load.intervals).reduce((a, b) => a + b, 0)}).`);
  if (load.advice) out.push(`  ${load.advice}.`);
  if (results.overran) out.push(`  The run overran: it ended ${results.overran.byS} s past its planned ${results.overran.plannedS} s.`);
  return out;
}

function saturationLine(results: Results): string | undefined {
  const split = results.saturation;
  if (split.intervals === 0) return undefined;
  const share = results.total.requests === 0 ? 0 : (split.requests / results.total.requests) * 100;
  const all = split.latencyMs;
  const clean = split.latencyMsExcludingSaturated;
  return (
    `Generator saturated in ${split.intervals} interval${split.intervals === 1 ? '' : 's'} (${split.seconds}s; event loop >= ${split.limits.busyPercent}% busy or lag >= ${split.limits.lagP99Ms} ms): ` +
    `${split.requests} requests (${share.toFixed(1)}%) finished then, and their latency includes the generator's own delay. ` +
    `p50/p95/p99 ${formatMs(all.p50)}/${formatMs(all.p95)}/${formatMs(all.p99)} ms with them, ${formatMs(clean.p50)}/${formatMs(clean.p95)}/${formatMs(clean.p99)} ms without.`
  );
}

/**
 * A Locust-style end-of-run table (latencies in ms), then failures and generator health; the
 * thresholds come last, ending with one verdict line.
 */
export function formatSummary(results: Results): string {
  const typeRows = results.types.length > 1 || results.bareThresholdsRead !== 'Aggregated' ? results.types : [];
  const rows = [...results.stats.map(cells), ...typeRows.map(cells), cells(results.total)];
  const widths = COLUMNS.map((title, i) => Math.max(title.length, ...rows.map((row) => (row[i] ?? '').length)));
  const line = (values: readonly string[]): string =>
    values
      .map((value, i) => pad(value, widths[i] ?? 0, i >= 2))
      .join('  ')
      .trimEnd();
  const rule = '-'.repeat(widths.reduce((a, b) => a + b + 2, -2));
  const out: string[] = [line(COLUMNS), rule];
  for (const row of rows.slice(0, results.stats.length)) out.push(line(row));
  out.push(rule);
  for (const row of rows.slice(results.stats.length)) out.push(line(row));
  const drained = results.durationS - results.activeS >= 0.1 ? ` (${results.activeS}s of load, then draining)` : '';
  out.push(
    '',
    `Latencies in ms (HDR histograms, microsecond resolution; '-' where a row has no samples). ${results.durationS}s${drained}, seed ${results.seed}, ${results.devices.started}/${results.devices.target} devices started.`,
  );
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
  // A COMMAND row's late answers are replies, told on the Commands line.
  const lateAcks = results.total.lateAcks - (results.commands?.total.late ?? 0);
  if (lateAcks > 0) {
    out.push('', `${lateAcks} MQTT acks arrived after their timeout; those attempts count as timeouts, not successes.`);
  }
  const downgraded = results.stats.filter((row) => (row.qosDowngrades ?? 0) > 0);
  for (const row of downgraded) if (row.type !== 'PUBLISH') out.push('', `${row.qosDowngrades} × ${row.type} ${row.name}: the broker granted a lower QoS than asked (counted as successes).`);
  out.push(...qos2DowngradeLines(downgraded.filter((row) => row.type === 'PUBLISH')));
  const mqttRows = results.stats.filter((row) => row.type === 'CONNECT');
  if (mqttRows.length > 0 && results.devices.onlineOverTime && results.devices.onlineOverTime.length > 0) {
    const online = results.devices.onlineOverTime.map(([, count]) => count);
    out.push('', `Devices online: ${results.devices.online} of ${results.devices.target} when the run began to stop (peak ${Math.max(...online)}).`);
    if (typeof results.devices.timeToAllOnlineMs === 'number') out.push(`All devices of the first target were online ${results.devices.timeToAllOnlineMs / 1000}s after the start.`);
  }
  const downlink = results.downlink;
  if (downlink && downlink.received > 0) {
    const dropped = downlink.reactionsDropped > 0 ? `, ${downlink.reactionsDropped} dropped because the device's reaction queue was full` : '';
    const failed =
      downlink.reactionsFailed > 0 ? `, ${downlink.reactionsFailed} failed before running (${downlink.reactionFailures.map((failure) => `${failure.reason}: ${failure.count}`).join('; ')})` : '';
    out.push('', `Downlink: ${downlink.received} messages received by devices, ${downlink.reactionsQueued - downlink.reactionsFailed} ran a reaction${failed}${dropped}.`);
  }
  if (results.delivery) out.push('', ...deliveryLines(results.delivery));
  out.push(...lifecycleAndLinkLines(results));
  const sparkplug = results.sparkplug?.total;
  if (sparkplug) {
    out.push(
      '',
      `Sparkplug: ${sparkplug.nodes} edge nodes, ${sparkplug.births} births (${sparkplug.rebirths} rebirths, ${sparkplug.rebirthRequests} rebirth requests), ${sparkplug.deaths} deaths, ${sparkplug.outOfOrderSeq} messages out of seq order.`,
    );
  }
  const commands = results.commands;
  if (commands) {
    const total = commands.total;
    const unmatched = commands.unmatchedReplies > 0 ? `; ${commands.unmatchedReplies} replies matched no command waiting for one` : '';
    out.push(
      '',
      `Commands: ${total.commands} ended, ${total.replied} replied in time, ${total.timeouts} timed out (${total.late} replied late, ${total.lost} never replied), ${total.failed} failed to send${unmatched}.`,
    );
  }
  if (results.broker) out.push('', ...brokerLines(results));
  const keepalive = results.keepalive;
  if (keepalive && keepalive.checks > 0) {
    out.push(
      '',
      `Keepalive: ${keepalive.checks} checks, ${keepalive.pingsSent} PINGREQs sent; checks ran late by p50 ${keepalive.lateP50Ms} ms, p99 ${keepalive.lateP99Ms} ms, max ${keepalive.lateMaxMs} ms (a broker drops a session silent for 1.5 keepalive intervals).`,
    );
  }
  const unanswered = results.total.failedLatencyMs;
  if (unanswered.max !== null) {
    out.push('', `Attempts with no answer (refused, reset, timed out, lost) are failures whose time is not latency: they took p50 ${unanswered.p50} ms, max ${unanswered.max} ms (failedLatencyMs).`);
  }
  if (results.abandoned > 0) {
    const cause = results.abandonCause;
    const when = cause === 'second interrupt' ? 'when a second interrupt ended the drain' : cause === 'drain timeout' ? 'when the drain timeout ended' : `when their shards' drains ended (${cause})`;
    out.push('', `${results.abandoned} attempts were still in flight ${when}; they were aborted and are in no row above.`);
  }
  const generator = results.generator;
  const processCpu = generator.processCpuPercent !== undefined && generator.processCpuPercent !== generator.cpuPercent ? ` (whole process ${generator.processCpuPercent}%)` : '';
  const host = [
    generator.runQueuePercent === undefined ? '' : `waited for a CPU ${generator.runQueuePercent}% of the run`,
    generator.otherCpuPercent === undefined ? '' : `other processes used ${generator.otherCpuPercent}% of the machine's CPU`,
    generator.stealPercent ? `steal ${generator.stealPercent}%` : '',
  ].filter(Boolean);
  out.push(
    '',
    `Generator: CPU ${generator.cpuPercent}% of a core${processCpu}, max RSS ${Math.round(generator.maxRssBytes / 1048576)} MB, event loop ${generator.eventLoopBusyPercent === undefined ? '' : `busy ${generator.eventLoopBusyPercent}%, `}lag p99 ${generator.eventLoopLagP99Ms} ms${host.length > 0 ? `; ${host.join(', ')}` : ''}.`,
  );
  const saturated = saturationLine(results);
  if (saturated) out.push('', saturated);
  for (const warning of results.warnings) out.push('', `Warning: ${warning}`);
  const load = loadLines(results);
  if (load.length > 0) out.push('', ...load);
  const thresholds = thresholdLines(results);
  if (thresholds.length > 0) {
    if (results.bareThresholdsRead !== 'Aggregated') out.push('', `A threshold without a selector reads ${results.bareThresholdsRead} (CONNECT and SUBSCRIBE rows are session setup, not traffic).`);
    out.push('', ...thresholds);
  }
  const verdict = thresholdVerdict(results);
  if (verdict) out.push(...(thresholds.length > 0 ? [] : ['']), verdict);
  return out.join('\n');
}

/** One warning for every QoS 2 publish a broker answered with PUBACK, whichever rows they are on. */
function qos2DowngradeLines(rows: readonly StatsRow[]): string[] {
  if (rows.length === 0) return [];
  const total = rows.reduce((sum, row) => sum + (row.qosDowngrades ?? 0), 0);
  return [
    '',
    `${total.toLocaleString('en-US')} QoS 2 publishes (${rows.map((row) => row.name).join(', ')}) were answered with PUBACK: the broker downgrades QoS 2 to QoS 1, as RabbitMQ does by design. They count as acked at QoS 1 (at least once, not exactly once); mqtt.qos2Downgrade: fail counts them as failures.`,
  ];
}

/** The broker's own view of the run (`--broker-stats`), beside fleetsim's acked count. */
function brokerLines(results: Results): string[] {
  const broker = results.broker;
  if (!broker) return [];
  const count = (value: number | null): string => (value === null ? 'n/a' : value.toLocaleString('en-US'));
  const acked = results.stats.filter((row) => row.type === 'PUBLISH').reduce((sum, row) => sum + row.requests - row.failures, 0);
  if (broker.publishReceived === null) return ['Broker ($SYS): the broker published no Mosquitto-style $SYS figures; nothing to compare.'];
  const lines = [
    `Broker ($SYS): received ${count(broker.publishReceived)} publishes during the run (fleetsim acked ${count(acked)}), sent ${count(broker.publishSent)}, dropped ${count(broker.publishDropped)}; clients connected: peak ${count(broker.clientsConnected.peak)}, this probe included.`,
  ];
  const load = Object.entries(broker.load1min).map(([name, value]) => `${name} ${value}`);
  if (load.length > 0) lines.push(`  Broker load, 1-min average (per minute, not per second): ${load.join(', ')}.`);
  for (const note of broker.notes ?? []) lines.push(`  Note: ${note}`);
  if (!broker.fresh) lines.push('  No $SYS update came after the run ended: these counts may be up to one $SYS interval old.');
  return lines;
}
