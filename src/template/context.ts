import type { Random } from '../identity/rng.ts';

/** What a template can see: the device, its sequence number and its own random stream. Nothing else. */
export interface TemplateContext {
  readonly deviceId: string;
  readonly deviceIndex: number;
  readonly deviceModel: string;
  /** Per-device attempt counter; the request being built has this number. */
  seq: number;
  readonly random: Random;
  /** Current value of each random walk in the device model, indexed by walk slot. */
  readonly walks: Float64Array;
}

export type TemplateValue = string | number | boolean;
export type CompiledValue = (context: TemplateContext) => TemplateValue;
