import { deviceRandom } from '../../identity/rng.ts';
import type { RunPlan } from '../../profile/types.ts';
import type { TemplateContext, TemplateValue } from '../../template/context.ts';
import { dataRow, entryOrdinals, fleetIdFunctions, layoutFleet } from './fleet-layout.ts';

/** Who device `index` is: what a registry or a certificate authority must know before the run. */
export interface DeviceIdentity {
  readonly index: number;
  readonly id: string;
  readonly model: string;
  /** The MQTT client id, for a model that keeps a session. */
  readonly clientId: string | undefined;
}

/**
 * Every device of the fleet, derived exactly as a run derives it: the same interleaving of the fleet
 * entries, the same id scheme, and the client id evaluated on the device's own random stream at the
 * point a run evaluates it (after the walks' starting values are drawn), so a registry provisioned
 * from this list matches the run, whatever its spawn rate or shape.
 */
export function* fleetIdentities(plan: RunPlan): Generator<DeviceIdentity> {
  const layout = layoutFleet(plan.fleet);
  const ordinals = entryOrdinals(layout, plan.fleet.length);
  const ids = fleetIdFunctions(plan.fleet, ordinals, plan.seed);
  for (let index = 0; index < layout.length; index++) {
    const entry = layout[index] ?? 0;
    const fleetEntry = plan.fleet[entry];
    if (!fleetEntry) return;
    const model = fleetEntry.model;
    const id = (ids[entry] as (index: number) => string)(index);
    let clientId: string | undefined;
    if (model.mqtt) {
      const random = deviceRandom(plan.seed, index);
      const context: TemplateContext = {
        deviceId: id,
        deviceIndex: index,
        deviceModel: model.name,
        seq: 0,
        random,
        walks: model.walkRanges.map(([min, max]) => min + random() * (max - min)),
        vars: new Array<TemplateValue>(model.variables.length).fill(''),
        repeatIndex: 0,
        data: dataRow(fleetEntry, ordinals[index] ?? 0),
        timeMs: 0,
      };
      clientId = String(model.mqtt.clientId.evaluate(context));
    }
    yield { index, id, model: model.name, clientId };
  }
}
