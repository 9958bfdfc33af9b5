/** How the search steps the fleet up: by a fixed count, or by a factor (geometric). */
export interface StepPlan {
  readonly start: number;
  readonly maxDevices: number;
  readonly step?: number;
  readonly factor?: number;
}

/**
 * The device counts to try, in order: `start`, then up by `step` (or times `factor`, at least one
 * more device each time), and `maxDevices` last when the steps would pass it.
 */
export function* planSteps(plan: StepPlan): Generator<number> {
  let devices = Math.min(plan.start, plan.maxDevices);
  yield devices;
  while (devices < plan.maxDevices) {
    const next = plan.factor !== undefined ? Math.max(devices + 1, Math.round(devices * plan.factor)) : devices + (plan.step ?? plan.start);
    devices = Math.min(next, plan.maxDevices);
    yield devices;
  }
}
