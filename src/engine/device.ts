import type { Random } from '../identity/rng.ts';
import { weightedIndex } from '../identity/rng.ts';
import type { StatsEntry } from '../metrics/stats.ts';
import { followPath } from '../profile/capture-path.ts';
import type { Capture, DeviceModel, HttpAction, StepSpec, TaskSpec } from '../profile/types.ts';
import type { TemplateContext, TemplateValue } from '../template/context.ts';
import type { AttemptResult } from '../transport/types.ts';
import { elapsedMicros } from './clock.ts';
import { encodePathChars } from './request-path.ts';
import type { Schedulable } from './scheduler.ts';
import { isPaced, nextTick } from './wait.ts';
import type { NextTick } from './wait.ts';

/** A step with what the engine resolved for it once: its stats entry. */
export interface BoundStep {
  readonly spec: StepSpec;
  readonly stats: StatsEntry;
}

export interface BoundTask {
  readonly spec: TaskSpec;
  readonly steps: readonly BoundStep[];
}

export interface BoundModel {
  readonly model: DeviceModel;
  readonly boot: readonly BoundTask[];
  readonly tasks: readonly BoundTask[];
  readonly paced: boolean;
}

/** What a device needs from the run it belongs to. */
export interface DeviceHost {
  readonly stopping: boolean;
  readonly iterations: number | undefined;
  now(): number;
  /** Ms since run start for a clock time. */
  sinceStart(clockMs: number): number;
  schedule(device: VirtualDevice, dueAt: number): void;
  sendHttp(device: VirtualDevice, action: HttpAction, path: string, headers: Record<string, string>, body: string | undefined, keepBody: boolean): Promise<AttemptResult>;
  onAttempt(device: VirtualDevice, step: BoundStep, result: AttemptResult, latencyMicros: number, intendedMicros: number, late: boolean): void;
  onStarted(device: VirtualDevice): void;
  onFinished(device: VirtualDevice): void;
}

/** Timers fire a few ms late on a busy loop; a tick counts as late only beyond this. */
const LATE_TOLERANCE_MS = 10;

const enum Phase {
  Waiting,
  Boot,
  Loop,
  Done,
}

/**
 * One virtual device. It has at most one attempt in flight, so the task's state lives in fields and
 * its completion handlers are bound once: a request creates no closures here.
 */
export class VirtualDevice implements Schedulable, TemplateContext {
  dueAt = 0;
  heapIndex = -1;
  seq = 0;
  repeatIndex = 0;
  readonly walks: Float64Array;
  readonly vars: TemplateValue[];
  /** Values captured by the attempt just finished; they replace `vars` only after it is logged, as what it sent. */
  private readonly staged: TemplateValue[];
  private readonly stagedSlots: number[] = [];
  private phase = Phase.Waiting;
  private bootStep = 0;
  private iterationsDone = 0;
  private intendedAt = 0;
  private readonly tick: NextTick = { startAt: 0, intendedAt: 0, missed: 0 };

  // The task under way: its steps run in order, each `repeat` times, with `sleep` between attempts.
  private task: BoundTask | undefined;
  private taskIsBoot = false;
  private taskIntendedAt = 0;
  private stepIndex = 0;

  // The attempt in flight.
  private attempt: BoundStep | undefined;
  private attemptIsFirst = false;
  private attemptStart = 0n;
  private attemptStartedAt = 0;
  currentTarget = '';
  currentBody: string | undefined;
  currentSeq = 0;

  private readonly complete = (result: AttemptResult): void => this.onComplete(result);
  // Transports settle every attempt with a result; a rejection is our bug, still counted so the device goes on.
  private readonly fail = (error: unknown): void => this.onComplete({ outcome: 'failure', error: `internal error: ${String(error)}`, bytesIn: 0 });

  constructor(
    readonly deviceIndex: number,
    readonly deviceId: string,
    readonly bound: BoundModel,
    readonly random: Random,
    private readonly host: DeviceHost,
  ) {
    const ranges = bound.model.walkRanges;
    this.walks = new Float64Array(ranges.length);
    // Walks start at a seeded point of their range, drawn before anything else so they never depend on task order.
    ranges.forEach(([min, max], i) => {
      this.walks[i] = min + random() * (max - min);
    });
    this.vars = new Array<TemplateValue>(bound.model.variables.length).fill('');
    this.staged = new Array<TemplateValue>(bound.model.variables.length).fill('');
  }

  get deviceModel(): string {
    return this.bound.model.name;
  }

  get inFlight(): boolean {
    return this.attempt !== undefined;
  }

  get finished(): boolean {
    return this.phase === Phase.Done;
  }

  wake(): void {
    if (this.phase === Phase.Waiting) {
      this.phase = this.bound.boot.length > 0 ? Phase.Boot : Phase.Loop;
      this.intendedAt = this.host.now();
      this.host.onStarted(this);
    }
    if (this.host.stopping) return this.finish();
    // Woken after a sleep between two attempts of the same task.
    if (this.task) return this.startAttempt();
    let task: BoundTask | undefined;
    this.taskIsBoot = this.phase === Phase.Boot;
    if (this.phase === Phase.Boot) {
      task = this.bound.boot[this.bootStep++];
      if (this.bootStep >= this.bound.boot.length) this.phase = Phase.Loop;
    } else {
      const limit = this.host.iterations;
      if (limit !== undefined && this.iterationsDone >= limit) return this.finish();
      this.iterationsDone++;
      const tasks = this.bound.tasks;
      task = tasks.length === 1 ? tasks[0] : tasks[weightedIndex(this.random, this.bound.model.cumulativeWeights)];
    }
    if (!task) return this.finish();
    this.task = task;
    this.taskIntendedAt = this.intendedAt;
    this.stepIndex = 0;
    this.repeatIndex = 0;
    this.startAttempt();
  }

  private startAttempt(): void {
    const step = (this.task as BoundTask).steps[this.stepIndex] as BoundStep;
    const spec = step.spec;
    const action = spec.action;
    this.attempt = step;
    this.attemptIsFirst = this.stepIndex === 0 && this.repeatIndex === 0;
    this.currentSeq = this.seq;
    const path = encodePathChars(String(action.path.evaluate(this)));
    const headers: Record<string, string> = {};
    for (const [name, template] of action.headers) headers[name] = String(template.evaluate(this));
    const body = action.body ? action.body(this) : undefined;
    if (action.contentType !== undefined && headers['content-type'] === undefined) headers['content-type'] = action.contentType;
    this.seq++;
    this.currentTarget = path;
    this.currentBody = body;
    this.attemptStartedAt = this.host.now();
    this.attemptStart = process.hrtime.bigint();
    void this.host.sendHttp(this, action, path, headers, body, spec.captures.length > 0).then(this.complete, this.fail);
  }

  private onComplete(received: AttemptResult): void {
    const step = this.attempt as BoundStep;
    const task = this.task as BoundTask;
    const latencyMicros = elapsedMicros(this.attemptStart);
    const endedAt = this.host.now();
    const captures = step.spec.captures;
    const result = captures.length > 0 && received.outcome === 'ok' ? this.capture(captures, received) : received;
    // Pacing promises when a task starts, so only its first attempt can be late.
    const paced = this.bound.paced && !this.taskIsBoot && this.attemptIsFirst;
    const late = paced && this.attemptStartedAt - this.taskIntendedAt > LATE_TOLERANCE_MS;
    // A wake can come up to a millisecond before its due time; never report less than the service time.
    const intendedMicros = paced ? Math.max(latencyMicros, (endedAt - this.taskIntendedAt) * 1000) : -1;
    this.attempt = undefined;
    this.host.onAttempt(this, step, result, latencyMicros, intendedMicros, late);
    for (const slot of this.stagedSlots) this.vars[slot] = this.staged[slot] as TemplateValue;
    this.stagedSlots.length = 0;
    if (this.host.stopping) return this.finish();
    if (++this.repeatIndex >= step.spec.repeat) {
      this.repeatIndex = 0;
      this.stepIndex++;
    }
    if (this.stepIndex < task.steps.length) {
      if (step.spec.sleepMs > 0) this.host.schedule(this, endedAt + step.spec.sleepMs);
      else this.startAttempt();
      return;
    }
    this.task = undefined;
    if (this.taskIsBoot) {
      this.intendedAt = endedAt;
      this.host.schedule(this, endedAt);
      return;
    }
    // The last iteration ends the device now, not after one more wait.
    const limit = this.host.iterations;
    if (limit !== undefined && this.iterationsDone >= limit) return this.finish();
    // The first looped task starts right after boot; the pacing grid is anchored there.
    const tick = nextTick(this.bound.model.wait, this.random, this.taskIntendedAt, endedAt, this.tick);
    (task.steps[0] as BoundStep).stats.missed += tick.missed;
    this.intendedAt = tick.intendedAt;
    this.host.schedule(this, tick.startAt);
  }

  /** Stages the captured values; a response without all of them is a failed attempt and changes no variable. */
  private capture(captures: readonly Capture[], result: AttemptResult): AttemptResult {
    let document: unknown;
    try {
      document = JSON.parse(result.body ?? '');
    } catch {
      return { outcome: 'failure', error: 'capture: the response is not JSON', bytesIn: result.bytesIn };
    }
    for (const capture of captures) {
      const value = followPath(document, capture.path);
      if (value === undefined || value === null) {
        this.stagedSlots.length = 0;
        return { outcome: 'failure', error: `capture ${capture.variable}: ${capture.expression} is not in the response`, bytesIn: result.bytesIn };
      }
      this.staged[capture.slot] = typeof value === 'object' ? JSON.stringify(value) : (value as TemplateValue);
      this.stagedSlots.push(capture.slot);
    }
    return result;
  }

  currentIntendedSinceStart(): number {
    return this.host.sinceStart(this.attemptIsFirst ? this.taskIntendedAt : this.attemptStartedAt);
  }

  finish(): void {
    if (this.phase === Phase.Done) return;
    this.phase = Phase.Done;
    this.task = undefined;
    this.host.onFinished(this);
  }
}

export function bindModel(model: DeviceModel, entryFor: (type: string, name: string) => StatsEntry): BoundModel {
  const bind = (spec: TaskSpec): BoundTask => ({ spec, steps: spec.steps.map((step) => ({ spec: step, stats: entryFor(step.action.method, step.name) })) });
  return { model, boot: model.boot.map(bind), tasks: model.tasks.map(bind), paced: isPaced(model.wait) };
}
