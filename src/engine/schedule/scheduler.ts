import type { Clock } from '../../util/clock.ts';

export interface Schedulable {
  /** Clock ms at which `wake` should run; owned by the scheduler while queued. */
  dueAt: number;
  heapIndex: number;
  wake(): void;
}

export interface TimerApi {
  setTimeout(callback: () => void, ms: number): unknown;
  clearTimeout(handle: unknown): void;
}

const nodeTimers: TimerApi = {
  setTimeout: (callback, ms) => setTimeout(callback, ms),
  clearTimeout: (handle) => clearTimeout(handle as NodeJS.Timeout),
};

/**
 * One timer for the whole fleet: a binary min-heap of sleeping devices ordered by due time, with a
 * single timeout armed for the earliest. Thousands of devices cost one timer, not thousands.
 */
export class Scheduler {
  private readonly heap: Schedulable[] = [];
  private timer: unknown;
  private armedFor = Infinity;
  private readonly fire = (): void => this.runDue();

  constructor(
    private readonly clock: Clock,
    private readonly timers: TimerApi = nodeTimers,
  ) {}

  get size(): number {
    return this.heap.length;
  }

  schedule(item: Schedulable, dueAt: number): void {
    item.dueAt = dueAt;
    item.heapIndex = this.heap.length;
    this.heap.push(item);
    this.siftUp(item.heapIndex);
    if (dueAt < this.armedFor) this.arm(dueAt);
  }

  /** Takes a queued item out without waking it. */
  unschedule(item: Schedulable): void {
    const index = item.heapIndex;
    if (index < 0 || this.heap[index] !== item) return;
    const last = this.heap.pop() as Schedulable;
    item.heapIndex = -1;
    if (last === item) return;
    this.heap[index] = last;
    last.heapIndex = index;
    this.siftDown(index);
    this.siftUp(last.heapIndex);
  }

  /** Drops every queued item without waking it. */
  clear(): void {
    for (const item of this.heap) item.heapIndex = -1;
    this.heap.length = 0;
    this.disarm();
  }

  private arm(dueAt: number): void {
    this.disarm();
    this.armedFor = dueAt;
    this.timer = this.timers.setTimeout(this.fire, Math.max(0, dueAt - this.clock.now()));
  }

  private disarm(): void {
    if (this.timer !== undefined) this.timers.clearTimeout(this.timer);
    this.timer = undefined;
    this.armedFor = Infinity;
  }

  private runDue(): void {
    this.timer = undefined;
    this.armedFor = Infinity;
    // Timers fire up to a millisecond early or late; waking what is due within 1 ms avoids a re-arm storm.
    const horizon = this.clock.now() + 1;
    while (this.heap.length > 0 && (this.heap[0] as Schedulable).dueAt <= horizon) {
      const item = this.pop();
      item.wake();
    }
    const head = this.heap[0];
    if (head && head.dueAt < this.armedFor) this.arm(head.dueAt);
  }

  private pop(): Schedulable {
    const heap = this.heap;
    const top = heap[0] as Schedulable;
    const last = heap.pop() as Schedulable;
    if (heap.length > 0) {
      heap[0] = last;
      last.heapIndex = 0;
      this.siftDown(0);
    }
    top.heapIndex = -1;
    return top;
  }

  private siftUp(index: number): void {
    const heap = this.heap;
    const item = heap[index] as Schedulable;
    while (index > 0) {
      const parentIndex = (index - 1) >> 1;
      const parent = heap[parentIndex] as Schedulable;
      if (parent.dueAt <= item.dueAt) break;
      heap[index] = parent;
      parent.heapIndex = index;
      index = parentIndex;
    }
    heap[index] = item;
    item.heapIndex = index;
  }

  private siftDown(index: number): void {
    const heap = this.heap;
    const length = heap.length;
    const item = heap[index] as Schedulable;
    for (;;) {
      const left = 2 * index + 1;
      if (left >= length) break;
      const right = left + 1;
      let child = left;
      if (right < length && (heap[right] as Schedulable).dueAt < (heap[left] as Schedulable).dueAt) child = right;
      const childItem = heap[child] as Schedulable;
      if (childItem.dueAt >= item.dueAt) break;
      heap[index] = childItem;
      childItem.heapIndex = index;
      index = child;
    }
    heap[index] = item;
    item.heapIndex = index;
  }
}
