import type { FleetEntry } from './types.ts';
import { modelTasks } from './types.ts';

/** Every command step must name a device model of the profile's fleet: its devices are the ones commanded. */
export function checkCommandTargets(fleet: readonly FleetEntry[]): void {
  const names = [...new Set(fleet.map((entry) => entry.model.name))];
  for (const entry of fleet) {
    for (const task of modelTasks(entry.model)) {
      for (const step of task.steps) {
        const action = step.action;
        if (action.kind === 'command' && !names.includes(action.to)) {
          throw action.toError(`no device model named '${action.to}' in this profile's fleet (models: ${names.join(', ')})`);
        }
      }
    }
  }
}
