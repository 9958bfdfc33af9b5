import type { Engine } from '../engine/engine.ts';
import type { RampOrder } from './protocol.ts';

/**
 * A worker applies the coordinator's change of the fleet's device count as `run --ui` applies the
 * page's to its engine: a ramp from where the count is to the worker's stripe below the fleet-wide
 * bound, over the fleet's ramp time. A stopping run ignores it; one the engine refuses is said.
 */
export function applyRamp(engine: Engine, order: RampOrder, say: (line: string) => void): void {
  if (engine.stopping) return;
  try {
    engine.rampTo(order.devices, order.overMs);
    say(`The coordinator set the fleet's devices: this worker heads for ${order.share} over ${Math.round(order.overMs) / 1000}s.`);
  } catch (error) {
    say(`fleetsim: warning: the coordinator's device count was not applied: ${error instanceof Error ? error.message : String(error)}`);
  }
}
