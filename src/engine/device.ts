import type { Random } from '../identity/rng.ts';
import { weightedIndex } from '../identity/rng.ts';
import type { StatsEntry } from '../metrics/stats.ts';
import type { DeviceModel, HttpAction, TaskSpec } from '../profile/types.ts';
import type { TemplateContext } from '../template/context.ts';
import type { AttemptResult } from '../transport/types.ts';
import { elapsedMicros } from './clock.ts';
import type { Schedulable } from './scheduler.ts';
import { isPaced, nextTick } from './wait.ts';
import type { NextTick } from './wait.ts';

/** A task with what the engine resolved for it once: its stats entry. */
export interface BoundTask {
  readonly spec: TaskSpec;
  readonly stats: StatsEntry;
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
  sendHttp(device: VirtualDevice, action: HttpAction, path: string, headers: Record<string, string>, body: string | undefined): Promise<AttemptResult>;
  onAttempt(device: VirtualDevice, task: BoundTask, result: AttemptResult, latencyMicros: number, intendedMicros: number, late: boolean): void;
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
 * One virtual device. It has at most one task in flight, so the task's state lives in fields and
 * its completion handler is bound once: a request creates no closures here.
 */
export class VirtualDevice implements Schedulable, TemplateContext {
  dueAt = 0;
  heapIndex = -1;
  seq = 0;
  readonly walks: Float64Array;
  private phase = Phase.Waiting;
  private bootStep = 0;
  private iterationsDone = 0;
  private intendedAt = 0;
  private readonly tick: NextTick = { startAt: 0, intendedAt: 0, missed: 0 };

  // The task in flight.
  private current: BoundTask | undefined;
  private currentIsBoot = false;
  private currentStart = 0n;
  private currentStartedAt = 0;
  private currentIntendedAt = 0;
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
  }

  get deviceModel(): string {
    return this.bound.model.name;
  }

  get inFlight(): boolean {
    return this.current !== undefined;
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
    let task: BoundTask | undefined;
    this.currentIsBoot = this.phase === Phase.Boot;
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
    this.start(task);
  }

  private start(task: BoundTask): void {
    const action = task.spec.action;
    this.current = task;
    this.currentSeq = this.seq;
    const path = String(action.path.evaluate(this));
    const headers: Record<string, string> = {};
    for (const [name, template] of action.headers) headers[name] = String(template.evaluate(this));
    const body = action.body ? action.body(this) : undefined;
    if (action.contentType !== undefined && headers['content-type'] === undefined) headers['content-type'] = action.contentType;
    this.seq++;
    this.currentTarget = path;
    this.currentBody = body;
    this.currentStartedAt = this.host.now();
    this.currentIntendedAt = this.intendedAt;
    this.currentStart = process.hrtime.bigint();
    void this.host.sendHttp(this, action, path, headers, body).then(this.complete, this.fail);
  }

  private onComplete(result: AttemptResult): void {
    const task = this.current as BoundTask;
    const latencyMicros = elapsedMicros(this.currentStart);
    const endedAt = this.host.now();
    const paced = this.bound.paced && !this.currentIsBoot;
    const late = paced && this.currentStartedAt - this.currentIntendedAt > LATE_TOLERANCE_MS;
    // A wake can come up to a millisecond before its due time; never report less than the service time.
    const intendedMicros = paced ? Math.max(latencyMicros, (endedAt - this.currentIntendedAt) * 1000) : -1;
    this.current = undefined;
    this.host.onAttempt(this, task, result, latencyMicros, intendedMicros, late);
    if (this.host.stopping) return this.finish();
    if (this.currentIsBoot) {
      this.intendedAt = endedAt;
      this.host.schedule(this, endedAt);
      return;
    }
    // The first looped task starts right after boot; the pacing grid is anchored there.
    const tick = nextTick(this.bound.model.wait, this.random, this.currentIntendedAt, endedAt, this.tick);
    task.stats.missed += tick.missed;
    this.intendedAt = tick.intendedAt;
    this.host.schedule(this, tick.startAt);
  }

  currentIntendedSinceStart(): number {
    return this.host.sinceStart(this.currentIntendedAt);
  }

  finish(): void {
    if (this.phase === Phase.Done) return;
    this.phase = Phase.Done;
    this.host.onFinished(this);
  }
}

export function bindModel(model: DeviceModel, entryFor: (type: string, name: string) => StatsEntry): BoundModel {
  const bind = (spec: TaskSpec): BoundTask => ({ spec, stats: entryFor(spec.action.method, spec.name) });
  return { model, boot: model.boot.map(bind), tasks: model.tasks.map(bind), paced: isPaced(model.wait) };
}
