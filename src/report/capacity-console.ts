import type { CapacityResult, CapacityStep } from '../capacity/search.ts';
import { formatMs } from './console.ts';

const COLUMNS = ['devices', 'online', 'req/s', 'p50', 'p95', 'p99', 'fail%', 'timeout%', 'loop busy%', 'lag ms', 'verdict'] as const;

function cells(step: CapacityStep, knee: boolean): string[] {
  const verdict = step.ok ? 'ok' : `FAIL ${step.failedSlos.join('; ')}`;
  return [
    `${step.refined ? '~' : ''}${step.devices}`,
    String(step.online),
    step.rps.toFixed(1),
    formatMs(step.latencyMs.p50),
    formatMs(step.latencyMs.p95),
    formatMs(step.latencyMs.p99),
    (step.failureRate * 100).toFixed(2),
    (step.timeoutRate * 100).toFixed(2),
    `${step.generator.busyPercent.toFixed(0)}${step.generator.saturatedIntervals > 0 ? ` (${step.generator.saturatedIntervals}/${step.generator.intervals} sat.)` : ''}`,
    step.generator.maxLagP99Ms.toFixed(1),
    `${verdict}${knee ? '  <- knee' : ''}`,
  ];
}

/** One line per finished step, as the search goes. */
export function formatStep(step: CapacityStep): string {
  const latency = `p50/p95/p99 ${formatMs(step.latencyMs.p50)}/${formatMs(step.latencyMs.p95)}/${formatMs(step.latencyMs.p99)} ms`;
  const verdict = step.ok ? 'ok' : `FAIL ${step.failedSlos.join('; ')}`;
  return `step ${step.refined ? '(refine) ' : ''}${step.devices} devices: ${step.rps.toFixed(1)} req/s, ${latency}, ${(step.failureRate * 100).toFixed(2)}% failed, event loop ${step.generator.busyPercent}% busy: ${verdict}`;
}

/** Why the search stopped where it did, in one sentence. */
export function capacityVerdict(result: CapacityResult): string {
  const found = result.capacity ? `${result.capacity.devices} devices, ${result.capacity.rps.toFixed(1)} req/s` : 'none: no step passed';
  const failing = result.steps.find((step) => !step.ok && step.devices === kneeDevices(result));
  switch (result.limitedBy) {
    case 'target':
      return `Capacity: ${found}. Limited by the target: ${failing?.failedSlos.join('; ') ?? 'an SLO'} failed at ${failing?.devices ?? '?'} devices while the generator was healthy.`;
    case 'generator':
      return `Capacity: ${found}, as far as this generator can tell. Limited by the generator: at ${failing?.devices ?? '?'} devices fleetsim's own event loop was saturated (${failing?.generator.saturatedIntervals ?? 0} of ${failing?.generator.intervals ?? 0} intervals), so the failure is not the target's. Shard the generator (fewer devices per process) and search again.`;
    case 'max-devices':
      return `Capacity: at least ${found}. Every step passed up to --max-devices; the target's limit lies beyond it.`;
    case 'interrupted':
      return `Capacity: at least ${found}. The search was interrupted before a step failed.`;
  }
}

/** The failing step the knee sits before: the lowest-device failing step. */
function kneeDevices(result: CapacityResult): number | undefined {
  const failing = result.steps.filter((step) => !step.ok).map((step) => step.devices);
  return failing.length === 0 ? undefined : Math.min(...failing);
}

/** The step table, in device order, with the first failing step marked as the knee, then the verdict. */
export function formatCapacity(result: CapacityResult): string {
  const knee = kneeDevices(result);
  const steps = [...result.steps].sort((a, b) => a.devices - b.devices);
  const rows = steps.map((step) => cells(step, step.devices === knee));
  const widths = COLUMNS.map((title, i) => Math.max(title.length, ...rows.map((row) => (row[i] ?? '').length)));
  const line = (values: readonly string[]): string => values.map((value, i) => (i < COLUMNS.length - 1 ? value.padStart(widths[i] ?? 0) : value)).join('  ').trimEnd();
  const read = result.steps[0]?.row;
  const out = [
    `Capacity search, SLOs: ${result.slos.join(', ')}${read && read !== 'Aggregated' ? ` (rates and latency of ${read})` : ''}. Latencies in ms; ~ marks a refining step.`,
    line(COLUMNS),
    '-'.repeat(widths.reduce((a, b) => a + b + 2, -2)),
    ...rows.map(line),
    '',
    capacityVerdict(result),
  ];
  return out.join('\n');
}
