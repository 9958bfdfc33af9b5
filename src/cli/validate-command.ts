import path from 'node:path';
import { loadRunPlan } from '../profile/load.ts';
import type { RunPlan, TaskSpec, WaitModel } from '../profile/types.ts';
import { formatDuration } from '../profile/duration.ts';
import { overridesFromFlags } from './options.ts';
import type { RunFlags } from './options.ts';
import type { Output } from './run-command.ts';

function describeWait(wait: WaitModel): string {
  switch (wait.model) {
    case 'constant':
      return `constant ${formatDuration(wait.timeMs)}`;
    case 'between':
      return `between ${formatDuration(wait.minMs)} and ${formatDuration(wait.maxMs)}`;
    case 'pacing':
      return `a task every ${formatDuration(wait.intervalMs)}`;
    case 'throughput':
      return `${wait.perSecond} tasks/s`;
  }
}

function describeTask(task: TaskSpec): string {
  const steps = task.steps.map((step) => `${step.action.method} ${step.name}${step.repeat > 1 ? ` ×${step.repeat} in a row` : ''}`);
  return steps.length === 1 ? (steps[0] ?? '') : `${task.name} (${steps.join(' then ')})`;
}

export function describePlan(plan: RunPlan): string {
  const lines = [`${plan.profilePath}: valid. ${plan.devices} devices, spawn rate ${plan.spawnRate}/s, seed ${plan.seed}.`];
  for (const { model, count } of plan.fleet) {
    const tasks = model.tasks.map((task) => `${describeTask(task)} ×${task.weight}`).join(', ');
    const boot = model.boot.map(describeTask).join(', ');
    lines.push(`  ${count} × ${model.name} (${model.identity.scheme} ids): ${boot ? `boot ${boot}; ` : ''}tasks ${tasks}; wait ${describeWait(model.wait)}.`);
  }
  const ends = [plan.durationMs !== undefined ? formatDuration(plan.durationMs) : '', plan.iterations !== undefined ? `${plan.iterations} iterations` : ''];
  lines.push(`  Ends after ${ends.filter(Boolean).join(' or ')}; target ${plan.target ?? 'the embedded fixture'}.`);
  if (plan.thresholds.length > 0) lines.push(`  Thresholds: ${plan.thresholds.join('; ')}.`);
  return lines.join('\n');
}

export async function validateCommand(flags: RunFlags & { readonly profile: string }, output: Output): Promise<number> {
  const plan = await loadRunPlan(path.resolve(flags.profile), overridesFromFlags(flags));
  output.stdout(describePlan(plan));
  return 0;
}
