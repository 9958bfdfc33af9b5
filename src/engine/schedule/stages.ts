import type { Stage } from '../../profile/types.ts';
import { rampStepsDue } from './ramp.ts';
import type { Schedulable } from './scheduler.ts';

/**
 * The load model of stages, k6 style: each stage moves the device count linearly from where it is
 * to its target over its duration. It drives the engine only through its runtime ramp API, as a
 * capacity search or a UI would.
 */

/** What a load model drives: the engine's runtime API. */
export interface RampControl {
  /** Moves the running device count linearly from where it is to `devices` over `overMs` (0: at once). */
  rampTo(devices: number, overMs: number): void;
  now(): number;
  schedule(item: Schedulable, dueAt: number): void;
}

/** The planned device count `atMs` into the run, from `initial` devices at the start. */
export function devicesAt(stages: readonly Stage[], atMs: number, initial = 0): number {
  let from = initial;
  let stageStart = 0;
  for (const stage of stages) {
    if (atMs < stageStart + stage.durationMs) {
      const steps = Math.abs(stage.devices - from);
      return from + Math.sign(stage.devices - from) * rampStepsDue(steps, stage.durationMs, atMs - stageStart);
    }
    from = stage.devices;
    stageStart += stage.durationMs;
  }
  return from;
}

/** `0 → 40 over 4s` lines, with when each stage runs, for `validate` and the run's opening line. */
export function describeStages(stages: readonly Stage[], formatDuration: (ms: number) => string): string[] {
  let from = 0;
  let at = 0;
  return stages.map((stage, i) => {
    const what = stage.devices === from ? `hold ${from} devices` : `${from} → ${stage.devices} devices`;
    const line = `stage ${i + 1}: ${what} ${stage.devices === from ? 'for' : 'over'} ${formatDuration(stage.durationMs)} (${formatDuration(at)}–${formatDuration(at + stage.durationMs)})`;
    from = stage.devices;
    at += stage.durationMs;
    return line;
  });
}

/** Starts each stage's ramp at its planned time, on the engine's one scheduler. */
export class StageDriver implements Schedulable {
  dueAt = 0;
  heapIndex = -1;
  private next = 0;
  private startAt = 0;
  private endOfStage = 0;

  constructor(
    private readonly control: RampControl,
    private readonly stages: readonly Stage[],
  ) {}

  start(): void {
    this.startAt = this.control.now();
    this.wake();
  }

  wake(): void {
    const stage = this.stages[this.next++];
    if (!stage) return;
    this.control.rampTo(stage.devices, stage.durationMs);
    // Boundaries are planned from the start, so a late timer never pushes the later stages back.
    this.endOfStage += stage.durationMs;
    if (this.next < this.stages.length) this.control.schedule(this, this.startAt + this.endOfStage);
  }
}
