import type { Schedulable } from './scheduler.ts';

/**
 * How many of a ramp's `steps` (devices to start or stop) are due `elapsedMs` into a ramp of
 * `overMs`. The count runs one step ahead of the straight line, so a ramp from 0 starts its first
 * device at once and step k falls at (k-1)·overMs/steps: a spawn rate R is a ramp of N over N/R s.
 */
export function rampStepsDue(steps: number, overMs: number, elapsedMs: number): number {
  if (steps <= 0) return 0;
  if (overMs <= 0 || elapsedMs >= overMs) return steps;
  if (elapsedMs < 0) return 0;
  return Math.min(steps, Math.floor((elapsedMs * steps) / overMs) + 1);
}

/** What a ramp moves: the engine's devices, on the engine's one scheduler. */
export interface RampHost {
  readonly stopping: boolean;
  now(): number;
  schedule(item: Schedulable, dueAt: number): void;
  unschedule(item: Schedulable): void;
  startDevice(index: number): void;
  /** `running` is the count left once this one stops. */
  stopDevice(index: number, running: number): void;
  /** A new ramp from `from` to `goal` over `overMs` begins now: the shape's schedule, whatever the loop manages. */
  rampStarted?(from: number, goal: number, overMs: number): void;
}

/**
 * The running device count and its linear move from `from` to `goal` over `overMs`. The population
 * is always the prefix 0..n-1, so a device's identity never depends on the shape; raising it starts
 * the next indices, lowering it stops the highest first. It wakes on the scheduler for each step.
 */
export class Ramp implements Schedulable {
  dueAt = 0;
  heapIndex = -1;
  /** Devices 0..population-1 are running (or, stopped by the shape, still ending their task). */
  population = 0;
  goal = 0;
  private from = 0;
  private start = 0;
  private overMs = 0;

  constructor(private readonly host: RampHost) {}

  /** Starts a new ramp from the count the previous one owes by now. */
  rampTo(goal: number, overMs: number): void {
    this.wake();
    this.host.unschedule(this);
    this.from = this.population;
    this.goal = goal;
    this.start = this.host.now();
    this.overMs = Math.max(0, overMs);
    this.host.rampStarted?.(this.from, goal, this.overMs);
    this.wake();
  }

  /** Starts or stops the devices owed by now, and sleeps until the next step. */
  wake(): void {
    const host = this.host;
    if (host.stopping) return;
    // Timers fire up to a millisecond early; what is due within 1 ms is due now, as in the scheduler.
    const elapsed = host.now() + 1 - this.start;
    const steps = Math.abs(this.goal - this.from);
    const done = rampStepsDue(steps, this.overMs, elapsed);
    const want = this.from + Math.sign(this.goal - this.from) * done;
    while (this.population < want && !host.stopping) host.startDevice(this.population++);
    while (this.population > want && !host.stopping) host.stopDevice(--this.population, this.population);
    if (done < steps && !host.stopping) host.schedule(this, this.start + (done * this.overMs) / steps);
  }

  /** No step is owed: the count is at the goal. */
  get settled(): boolean {
    return this.population === this.goal;
  }
}
