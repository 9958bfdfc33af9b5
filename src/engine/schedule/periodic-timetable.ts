import type { Random } from '../../identity/rng.ts';
import type { BoundStep, BoundTask } from '../device/bound-model.ts';

/**
 * A device's timetable when every task has its own period: each task keeps its own due time from
 * a seeded phase, and the earliest due runs next. A task that fell whole periods behind skips them
 * (counted as missed on its first step) instead of running them back to back.
 */
export class PeriodicTimetable {
  private readonly due: number[];

  constructor(
    private readonly tasks: readonly BoundTask[],
    now: number,
    random: Random,
  ) {
    this.due = tasks.map((task) => now + random() * (task.spec.everyMs ?? 0));
  }

  private earliestIndex(): number {
    const due = this.due;
    let index = 0;
    for (let i = 1; i < due.length; i++) if ((due[i] as number) < (due[index] as number)) index = i;
    return index;
  }

  /** When the next task is due (clock ms). */
  get nextDueAt(): number {
    return this.due[this.earliestIndex()] as number;
  }

  /** Takes the earliest task, which the caller found due, and moves its due time on past `now`. */
  take(now: number): BoundTask {
    const index = this.earliestIndex();
    const task = this.tasks[index] as BoundTask;
    const every = task.spec.everyMs ?? 1;
    let next = (this.due[index] as number) + every;
    if (now - next >= every) {
      const missed = Math.floor((now - next) / every);
      (task.steps[0] as BoundStep).stats.missed += missed;
      next += missed * every;
    }
    this.due[index] = next;
    return task;
  }
}
