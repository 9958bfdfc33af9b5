import { describeEvents, describeField } from './describe-field.ts';
import path from 'node:path';
import { loadRunPlan } from '../run/load-plan.ts';
import { actionType } from '../profile/types.ts';
import type { AuthSpec, RunPlan, TaskSpec, WaitModel } from '../profile/types.ts';
import { describeHttpConnections } from '../engine/device/http-options.ts';
import { describeStages } from '../engine/schedule/stages.ts';
import { formatDuration } from '../profile/duration.ts';
import { overridesFromFlags } from '../run/overrides.ts';
import type { RunFlags } from '../run/overrides.ts';
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
  const steps = task.steps.map((step) => {
    const burst = step.action.kind === 'publish' && step.sleepMs === 0;
    const qos = step.action.kind === 'http' ? '' : ` QoS ${step.action.qos}`;
    return `${actionType(step.action)} ${step.name}${qos}${step.repeat > 1 ? ` ×${step.repeat} ${burst ? 'in a burst' : 'in a row'}` : ''}`;
  });
  return steps.length === 1 ? (steps[0] ?? '') : `${task.name} (${steps.join(' then ')})`;
}

function describeAuth(auth: AuthSpec): string {
  const expiry = auth.expiry;
  const when = !expiry
    ? ''
    : expiry.kind === 'fixed'
      ? `every ${formatDuration(expiry.ms)}`
      : expiry.kind === 'jwt'
        ? `before the exp of the JWT in vars.${expiry.variable}`
        : `before the ${expiry.expression} seconds the server gives`;
  const renew = !expiry ? '' : `, renews ${when} with ${auth.refresh ? `${actionType(auth.refresh.action)} ${auth.refresh.name}` : 'a new login'}`;
  return `    Token lifecycle: logs in with ${actionType(auth.login.action)} ${auth.login.name}${renew}; after an HTTP 401 logs in again and retries once (rows "NAME (re-auth)").`;
}

export function describePlan(plan: RunPlan): string {
  const spawn = plan.stages ? `${plan.stages.length} stages` : plan.spawnMode === 'all-at-once' ? 'all started at once' : `spawn rate ${plan.spawnRate}/s`;
  const lines = [`${plan.profilePath}: valid. ${plan.devices} devices, ${spawn}, seed ${plan.seed}.`];
  for (const { model, count, network } of plan.fleet) {
    const tasks = model.tasks.map((task) => `${describeTask(task)} ${task.everyMs === undefined ? `×${task.weight}` : `every ${formatDuration(task.everyMs)}`}`).join(', ');
    const boot = model.boot.map(describeTask).join(', ');
    const periodic = model.tasks.some((task) => task.everyMs !== undefined);
    const session = model.mqtt ? `MQTT ${model.mqtt.protocolVersion === 5 ? '5' : '3.1.1'} session; ` : '';
    const reactions = model.reactions.map((reaction) => `${reaction.topic.source} → ${reaction.task ? describeTask(reaction.task) : 'received and measured'}`).join(', ');
    lines.push(
      `  ${count} × ${model.name} (${model.identity.scheme} ids): ${session}${boot ? `boot ${boot}; ` : ''}${tasks ? `tasks ${tasks}` : 'no tasks'}${periodic || !tasks ? '' : `; wait ${describeWait(model.wait)}`}${reactions ? `; on ${reactions}` : ''}.`,
    );
    if (model.auth) lines.push(describeAuth(model.auth));
    lines.push(...describeField(network ?? model.network, model.lifecycle));
  }
  lines.push(...describeEvents(plan.fleetEvents));
  const ends = [plan.durationMs !== undefined ? formatDuration(plan.durationMs) : '', plan.iterations !== undefined ? `${plan.iterations} iterations` : ''];
  const sessions = plan.fleet.some((entry) => entry.model.mqtt !== undefined);
  const broker = sessions ? `; broker ${plan.broker ?? 'the embedded Aedes broker'}` : '';
  if (plan.stages) for (const line of describeStages(plan.stages, formatDuration)) lines.push(`  ${line[0]?.toUpperCase() ?? ''}${line.slice(1)}.`);
  lines.push(`  Ends after ${ends.filter(Boolean).join(' or ')}; target ${plan.target ?? 'the embedded fixture'}${broker}.`);
  if (plan.http.tls || plan.http.connectionPerDevice) lines.push(`  HTTP: ${describeHttpConnections(plan.http)}.`);
  if (plan.thresholds.length > 0) lines.push(`  Thresholds: ${plan.thresholds.join('; ')}.`);
  return lines.join('\n');
}

export async function validateCommand(flags: RunFlags & { readonly profile: string }, output: Output): Promise<number> {
  const plan = await loadRunPlan(path.resolve(flags.profile), overridesFromFlags(flags));
  output.stdout(describePlan(plan));
  return 0;
}
