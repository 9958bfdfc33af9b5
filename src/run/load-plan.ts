import { thresholdSelectorProblem } from '../engine/fleet/threshold-rows.ts';
import { EnvironmentReader, loadRunPlan as loadProfile } from '../profile/load.ts';
import type { RunOverrides } from '../profile/load.ts';
import type { RunPlan } from '../profile/types.ts';

/**
 * Loads a profile into a plan as every command and the library do: the profile's own checks, then
 * thresholds that name no row the engine would make (a misspelt route) refused before the run.
 */
export function loadRunPlan(profileFile: string, overrides: RunOverrides = {}, environment = new EnvironmentReader()): Promise<RunPlan> {
  return loadProfile(profileFile, overrides, environment, thresholdSelectorProblem);
}
