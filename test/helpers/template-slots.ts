import { deviceRandom } from '../../src/identity/rng.ts';
import type { TemplateContext, TemplateValue } from '../../src/template/context.ts';
import type { SlotAllocator } from '../../src/template/functions.ts';

/** Hands out slots as the device-model loader does: walk ranges, data columns, the model's directory. */
export class TestSlots implements SlotAllocator {
  readonly walks: (readonly [number, number])[] = [];
  readonly columns: string[] = [];
  constructor(
    readonly directory = '.',
    private readonly env: Record<string, string> = {},
  ) {}
  allocateWalk(min: number, max: number): number {
    return this.walks.push([min, max]) - 1;
  }
  environment(name: string): string {
    const value = this.env[name];
    if (value === undefined) throw new Error(`environment variable ${name} is not set`);
    return value;
  }
  variable(name: string): number {
    throw new Error(`no task captures '${name}'`);
  }
  data(name: string): number {
    if (!this.columns.includes(name)) this.columns.push(name);
    return this.columns.indexOf(name);
  }
}

/** A device as the engine makes one: its stream from (seed, index), its walks drawn from it first. */
export function testDevice(slots: TestSlots, seed: string, index: number, data: Record<string, string> = {}): TemplateContext {
  const random = deviceRandom(seed, index);
  const walks = slots.walks.map(([min, max]) => min + random() * (max - min));
  const row = slots.columns.map((column) => data[column] ?? '');
  return { deviceId: `dev-${index}`, deviceIndex: index, deviceModel: 'probe', seq: 0, random, walks, vars: [] as TemplateValue[], repeatIndex: 0, data: row, timeMs: 0 };
}
