import type { DeviceModel, RunPlan } from '../../profile/types.ts';
import { modelTasks } from '../../profile/types.ts';
import type { HttpTransport } from '../../transport/http/http.ts';
import { warmUpHttp } from '../../transport/http/http-warmup.ts';

/** How long the pool's connections may take to open before the clock starts anyway (late ones still join). */
const PRECONNECT_WITHIN_MS = 1000;

export function modelUsesHttp(model: DeviceModel): boolean {
  const tasks = modelTasks(model);
  return tasks.some((task) => task.steps.some((step) => step.action.kind === 'http'));
}

export function planUsesHttp(plan: RunPlan): boolean {
  return plan.fleet.some((entry) => entry.count > 0 && modelUsesHttp(entry.model));
}

/**
 * Devices this process starts in the run's first second: as many connections as the shared pool
 * will open then at most. Opening more ahead would only hold idle connections on the target.
 */
export function firstSecondDevices(plan: RunPlan, ownedDevices: number): number {
  const share = plan.devices === 0 ? 0 : ownedDevices / plan.devices;
  const firstStage = plan.stages?.find((stage) => stage.devices > 0);
  const whole = firstStage ? firstStage.devices * Math.min(1, 1000 / Math.max(1, firstStage.durationMs)) : plan.spawnMode === 'all-at-once' ? plan.devices : plan.spawnRate;
  return Math.min(ownedDevices, Math.ceil(whole * share));
}

/**
 * What a run does before its clock starts, so a cold process does not charge its first second to
 * the target: the HTTP path is warmed on an in-process server (see warmUpHttp), and the shared
 * pool opens the connections its first second will use.
 */
export async function warmStart(plan: RunPlan, transport: HttpTransport, ownedDevices: number): Promise<void> {
  if (ownedDevices === 0 || !planUsesHttp(plan)) return;
  await warmUpHttp(plan.http.client);
  if (!plan.http.connectionPerDevice) await transport.preconnect(firstSecondDevices(plan, ownedDevices), PRECONNECT_WITHIN_MS);
}
