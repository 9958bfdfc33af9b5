import type { Random } from '../../identity/rng.ts';
import type { TemplateContext, TemplateValue } from '../../template/context.ts';
import type { BoundModel } from './bound-model.ts';

/** The variables of a model that declares none, shared by its devices: frozen, so a stray write throws instead of reaching them all. */
const NO_VARS: TemplateValue[] = Object.freeze([]) as unknown as TemplateValue[];

/**
 * A device as its templates and the code rendering its attempts see it: identity and model, seq
 * and repeat, random stream, walks, captured variables and data row, the time and target of the
 * attempt being built, and the message a reaction answers. VirtualDevice extends it with how the
 * device runs; one object still holds both, so a device costs what it did and a template reads
 * its fields directly.
 */
export class DeviceContext implements TemplateContext {
  seq = 0;
  repeatIndex = 0;
  /** Plain arrays, not Float64Arrays: a typed array and its buffer cost ~200 bytes per device before any data. */
  readonly walks: number[];
  readonly vars: TemplateValue[];
  /** The device's row of its fleet entry's data file (set when it starts), by data slot. */
  data: readonly string[] = [];
  timeMs = 0;
  /** While a command step renders: the device it goes to (`{{ target.id }}`). */
  targetId = '';
  targetIndex = -1;
  /** While a reaction runs (MQTT 5): the Response Topic and Correlation Data of the message it answers. */
  replyTopic: string | undefined;
  replyCorrelation: Buffer | undefined;
  /** What templates and waits draw from: the task stream, or the reaction stream while a reaction runs. */
  random: Random;
  /** Boots so far, this one included ({{ device.boots }}): a reboot runs the boot tasks again with the next. */
  boots = 1;

  constructor(
    readonly deviceIndex: number,
    readonly deviceId: string,
    readonly bound: BoundModel,
    /** The task stream: task choice, waits and the payloads of tasks, whatever the session does. */
    random: Random,
  ) {
    this.random = random;
    const ranges = bound.model.walkRanges;
    // Walks start at a seeded point of their range, drawn before anything else so they never depend on task order.
    this.walks = ranges.map(([min, max]) => min + random() * (max - min));
    const slots = bound.model.variables.length;
    this.vars = slots === 0 ? NO_VARS : new Array<TemplateValue>(slots).fill('');
  }

  get deviceModel(): string {
    return this.bound.model.name;
  }
}
