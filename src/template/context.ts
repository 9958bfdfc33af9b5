import type { Random } from '../identity/rng.ts';

/**
 * What a template can see: the device, its sequence number, its own random stream and what it captured.
 * Nothing else (environment references are resolved once, at load).
 */
export interface TemplateContext {
  readonly deviceId: string;
  readonly deviceIndex: number;
  readonly deviceModel: string;
  /** Boots so far, this one included: a reboot (the device's lifecycle) makes it one more. */
  readonly boots?: number;
  /** Per-device attempt counter; the request being built has this number. */
  seq: number;
  readonly random: Random;
  /** Current value of each random walk in the device model, indexed by walk slot. */
  readonly walks: number[];
  /** Values captured from responses, by variable slot; '' until captured. */
  readonly vars: TemplateValue[];
  /** Which repetition of a `repeat: N` step is being built, from 0. */
  readonly repeatIndex: number;
  /** The device's row of its fleet entry's data file, by the model's data slot; empty without one. */
  readonly data: readonly string[];
  /**
   * Wall-clock ms that `now()` and `nowMs()` render for the attempt being built, taken at its first
   * use (0 until then): one attempt carries one time, and the request log can put the reference back.
   */
  timeMs: number;
  /** In a command step: the device the command goes to (`{{ target.id }}`, `{{ target.index }}`). */
  readonly targetId?: string;
  readonly targetIndex?: number;
}

export type TemplateValue = string | number | boolean;
export type CompiledValue = (context: TemplateContext) => TemplateValue;
