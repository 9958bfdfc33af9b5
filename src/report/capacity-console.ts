import type { CapacityResult, CapacityStep } from '../capacity/search.ts';
import { formatMs } from './console.ts';

const COLUMNS = ['devices', 'online', 'offered/s', 'req/s', 'delivered', 'p50', 'p95', 'p99', 'fail%', 'timeout%', 'loop busy%', 'lag ms', 'verdict'] as const;

/** Why a step failed: its SLOs, and its load when it fell short of it (with whose limit that was). */
function failureText(step: CapacityStep): string {
  const reasons = [...step.failedSlos];
  if (step.cause !== 'delivered' && step.deliveredShare !== null) reasons.push(`delivered ${(step.deliveredShare * 100).toFixed(0)}% (${step.cause})`);
  return `FAIL ${reasons.join('; ') || step.cause}`;
}

function stepMark(step: CapacityStep): string {
  return `${step.refined ? '~' : ''}${step.repeat === 'retry' ? 'r' : step.repeat === 'knee' ? '+' : ''}`;
}

function cells(step: CapacityStep, knee: boolean): string[] {
  const verdict = step.ok ? 'ok' : failureText(step);
  return [
    `${stepMark(step)}${step.devices}`,
    String(step.online),
    step.offeredRps === null ? '-' : step.offeredRps.toFixed(1),
    step.rps.toFixed(1),
    step.deliveredShare === null ? '-' : `${(step.deliveredShare * 100).toFixed(0)}%`,
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
  const verdict = step.ok ? 'ok' : failureText(step);
  const offered = step.offeredRps === null || step.deliveredShare === null ? '' : ` of ${step.offeredRps.toFixed(1)} offered (${(step.deliveredShare * 100).toFixed(0)}%)`;
  const kind = step.refined ? '(refine) ' : step.repeat === 'retry' ? '(retry) ' : step.repeat === 'knee' ? '(repeat) ' : '';
  return `step ${kind}${step.devices} devices: ${step.rps.toFixed(1)} req/s${offered}, ${latency}, ${(step.failureRate * 100).toFixed(2)}% failed, event loop ${step.generator.busyPercent}% busy: ${verdict}`;
}

/** What stopped the failing step, for the verdict: the target's answers against the load offered, or the SLOs it broke. */
function failedBecause(step: CapacityStep | undefined): string {
  if (!step) return 'an SLO failed';
  if (step.cause === 'target' && step.offeredRps !== null && step.deliveredShare !== null) {
    const slos = step.failedSlos.length > 0 ? `, and ${step.failedSlos.join('; ')} failed` : '';
    return `the target answered ${(step.deliveredRps ?? step.rps).toFixed(0)} of ${step.offeredRps.toFixed(0)} offered per second at ${step.devices} devices (${(step.deliveredShare * 100).toFixed(0)}%)${slos}`;
  }
  return `${step.failedSlos.join('; ') || 'an SLO'} failed at ${step.devices} devices`;
}

/** Why the search stopped where it did, in one sentence. */
export function capacityVerdict(result: CapacityResult): string {
  const found = result.capacity ? `${result.capacity.devices} device${result.capacity.devices === 1 ? '' : 's'}, ${result.capacity.rps.toFixed(1)} req/s` : 'none: no step passed';
  const failing = result.firstFailing === undefined ? undefined : result.steps[result.firstFailing];
  const knee = kneeLine(result);
  switch (result.limitedBy) {
    case 'target':
      return `Capacity: ${found}. Limited by the target: ${failedBecause(failing)}, while the generator was healthy.${knee}`;
    case 'host':
      return `Capacity: inconclusive (${passed(result)}). At ${failing?.devices ?? '?'} devices the machine did not give fleetsim the CPU it was ready to use (it waited for a CPU ${failing?.generator.runQueuePercent ?? '?'}% of the step, on every retry), so the failure says nothing about the target. Search again on a quieter machine, or pin fleetsim and the target to different cores.${knee}`;
    case 'queues':
      return `Capacity: inconclusive (${passed(result)}). At ${failing?.devices ?? '?'} devices requests waited longer for one of fleetsim's pooled connections than for the target: raise http.connections (or connectionPerDevice) and search again.${knee}`;
    case 'generator':
      return `Capacity: ${found}, as far as this generator can tell. Limited by the generator: at ${failing?.devices ?? '?'} devices fleetsim's own event loop was saturated (${failing?.generator.saturatedIntervals ?? 0} of ${failing?.generator.intervals ?? 0} intervals), so the failure is not the target's. Shard the generator (fewer devices per process) and search again.`;
    case 'max-devices':
      return `Capacity: at least ${found}. Every step passed up to --max-devices; the target's limit lies beyond it.`;
    case 'interrupted':
      return `Capacity: at least ${found}. The search was interrupted before a step failed.`;
  }
}

function passed(result: CapacityResult): string {
  return result.capacity ? `${result.capacity.devices} devices, ${result.capacity.rps.toFixed(1)} req/s passed` : 'no step passed';
}

/** `--repeat`: how the knee held when measured again. */
function kneeLine(result: CapacityResult): string {
  if (!result.knee) return '';
  const sides = result.knee.repeats.map((side) => `${side.devices} devices passed ${side.passed} of ${side.of} (${side.rps.min.toFixed(1)}–${side.rps.max.toFixed(1)} req/s)`);
  return ` Measured again: ${sides.join('; ')}: ${result.knee.stable ? 'the knee held' : 'the knee is UNSTABLE: the answer is within the noise of this machine'}.`;
}

/**
 * The failing step the knee sits before: the fewest devices whose last measurement failed (a step
 * that failed, was retried and passed is not the knee; repeats of the knee aside).
 */
function kneeDevices(result: CapacityResult): number | undefined {
  const last = new Map<number, boolean>();
  for (const step of result.steps) if (step.repeat !== 'knee') last.set(step.devices, step.ok);
  const failing = [...last].filter(([, ok]) => !ok).map(([devices]) => devices);
  return failing.length === 0 ? undefined : Math.min(...failing);
}

/** The step table, in device order, with the first failing step marked as the knee, then the verdict. */
export function formatCapacity(result: CapacityResult): string {
  const knee = kneeDevices(result);
  const steps = [...result.steps].sort((a, b) => a.devices - b.devices);
  const rows = steps.map((step) => cells(step, step.devices === knee));
  const widths = COLUMNS.map((title, i) => Math.max(title.length, ...rows.map((row) => (row[i] ?? '').length)));
  const line = (values: readonly string[]): string =>
    values
      .map((value, i) => (i < COLUMNS.length - 1 ? value.padStart(widths[i] ?? 0) : value))
      .join('  ')
      .trimEnd();
  const read = result.steps[0]?.row;
  const out = [
    `Capacity search, SLOs: ${result.slos.join(', ')}${result.minDelivered === null ? '' : `, and at least ${Math.round(result.minDelivered * 1000) / 10}% of the offered load delivered`}${read && read !== 'Aggregated' ? ` (rates and latency of ${read})` : ''}. Latencies in ms; ~ marks a refining step, r a retry, + a repeat of the knee.`,
    line(COLUMNS),
    '-'.repeat(widths.reduce((a, b) => a + b + 2, -2)),
    ...rows.map(line),
    '',
    capacityVerdict(result),
  ];
  return out.join('\n');
}
