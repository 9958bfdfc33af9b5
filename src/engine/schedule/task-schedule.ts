import { weightedIndex } from '../../identity/rng.ts';
import type { Random } from '../../identity/rng.ts';
import type { BoundModel, BoundStep, BoundTask } from '../device/bound-model.ts';
import { PeriodicTimetable } from './periodic-timetable.ts';
import { nextTick, pacingPeriodMs } from './wait.ts';
import type { NextTick } from './wait.ts';

/**
 * Which task a device runs next and when: its boot tasks in order, then its loop's tasks (one by
 * weight under the model's wait, or each on its own period) until the run's iterations are done.
 * The device runs each task and says when it ended. This is also the NextTick its waits are
 * computed into, so a device carries one object for its schedule, not two.
 */
export class TaskSchedule implements NextTick {
  /** Clock ms the next task starts, as the last wait computed it. */
  startAt = 0;
  /** Clock ms the next task is meant to start: a pacing tick, or when the last task ended. */
  intendedAt = 0;
  /** Pacing ticks the last task's overrun skipped. */
  missed = 0;
  /** Clock ms the task under way was meant to start: pacing times its first attempt from here. */
  taskIntendedAt = 0;
  private bootStep = 0;
  private iterationsDone = 0;
  /** Set when the loop starts, for models whose tasks each have their own period. */
  private timetable: PeriodicTimetable | undefined;

  constructor(private readonly bound: BoundModel) {}

  /** The boot task to run now (undefined past the last), meant to start when the last ended. */
  nextBootTask(): BoundTask | undefined {
    const task = this.bound.boot[this.bootStep++];
    if (task) this.taskIntendedAt = this.intendedAt;
    return task;
  }

  /** Every boot task has been handed out: the loop is next. */
  get booted(): boolean {
    return this.bootStep >= this.bound.boot.length;
  }

  /** The device has run the `limit` loop tasks the run allows it. */
  ranOut(limit: number | undefined): boolean {
    return limit !== undefined && this.iterationsDone >= limit;
  }

  /** A loop task chosen by weight, from the task stream, meant to start at the current tick. */
  nextWeightedTask(random: Random): BoundTask | undefined {
    const tasks = this.bound.tasks;
    const task = tasks.length === 1 ? tasks[0] : tasks[weightedIndex(random, this.bound.model.cumulativeWeights)];
    this.taskIntendedAt = this.intendedAt;
    this.iterationsDone++;
    return task;
  }

  /** The earliest-due periodic task, or undefined when none is due yet (then `nextDueAt` says when). */
  nextPeriodicTask(now: number, random: Random): BoundTask | undefined {
    const timetable = (this.timetable ??= new PeriodicTimetable(this.bound.tasks, now, random));
    const dueAt = timetable.nextDueAt;
    if (dueAt > now + 1) return undefined;
    this.taskIntendedAt = dueAt;
    this.iterationsDone++;
    return timetable.take(now);
  }

  /** When the earliest periodic task is due (clock ms). */
  get nextDueAt(): number {
    return (this.timetable as PeriodicTimetable).nextDueAt;
  }

  /** A boot task ended at `endedAt`: the next task starts now, and the loop's grid is anchored here. */
  afterBootTask(endedAt: number): number {
    this.intendedAt = endedAt;
    return endedAt;
  }

  /** When the loop's next task starts after `task` ended; ticks its overrun skipped count as missed on its first step. */
  afterLoopTask(task: BoundTask, endedAt: number, random: Random): number {
    if (this.timetable) return Math.max(endedAt, this.timetable.nextDueAt);
    nextTick(this.bound.model.wait, random, this.taskIntendedAt, endedAt, this);
    (task.steps[0] as BoundStep).stats.missed += this.missed;
    return this.startAt;
  }

  /**
   * Back on the network between loop tasks: a paced device keeps its grid, skipping the ticks it
   * slept through (not counted as missed), so it sends one task per period of awake time, as the
   * offered load counts. The tick to wake at, or undefined when the model keeps no grid.
   */
  gridTickFrom(now: number): number | undefined {
    const period = this.bound.periodic ? undefined : pacingPeriodMs(this.bound.model.wait);
    if (period === undefined) return undefined;
    this.intendedAt += Math.max(0, Math.ceil((now - this.intendedAt) / period)) * period;
    return this.intendedAt;
  }

  /** Tasks start again from `now` (the device started, or came back on the network). */
  restartAt(now: number): void {
    this.intendedAt = now;
    this.taskIntendedAt = now;
  }

  /** A reboot: the boot tasks run again, and a periodic loop takes a new timetable. */
  reboot(): void {
    this.bootStep = 0;
    this.timetable = undefined;
  }
}
