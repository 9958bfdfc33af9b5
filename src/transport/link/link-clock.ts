import { performance } from 'node:perf_hooks';

/** Something the link clock wakes at `dueAt`: one lane of one shaped connection. */
export interface Timed {
  dueAt: number;
  heapIndex: number;
  due(now: number): void;
}

/**
 * One timer for every shaped connection in the process: a min-heap of lanes by due time and a
 * single timeout armed for the earliest, so a thousand delayed links cost one timer rather than one
 * per chunk.
 */
export class LinkClock {
  private readonly heap: Timed[] = [];
  private timer: NodeJS.Timeout | undefined;
  private armedFor = Infinity;
  private readonly fire = (): void => this.runDue();

  now(): number {
    return performance.now();
  }

  get size(): number {
    return this.heap.length;
  }

  /** Queues (or moves) `item` to wake at `dueAt`. */
  schedule(item: Timed, dueAt: number): void {
    if (item.heapIndex >= 0) this.unschedule(item);
    item.dueAt = dueAt;
    item.heapIndex = this.heap.length;
    this.heap.push(item);
    this.siftUp(item.heapIndex);
    if (dueAt < this.armedFor) this.arm(dueAt);
  }

  unschedule(item: Timed): void {
    const index = item.heapIndex;
    if (index < 0 || this.heap[index] !== item) return;
    const last = this.heap.pop() as Timed;
    item.heapIndex = -1;
    if (last === item) return;
    this.heap[index] = last;
    last.heapIndex = index;
    this.siftDown(index);
    this.siftUp(last.heapIndex);
    if (this.heap.length === 0) this.disarm();
  }

  private arm(dueAt: number): void {
    this.disarm();
    this.armedFor = dueAt;
    this.timer = setTimeout(this.fire, Math.max(0, dueAt - this.now()));
    // A link with nothing left but a scheduled drop must not keep the process alive.
    this.timer.unref();
  }

  private disarm(): void {
    if (this.timer !== undefined) clearTimeout(this.timer);
    this.timer = undefined;
    this.armedFor = Infinity;
  }

  private runDue(): void {
    this.timer = undefined;
    this.armedFor = Infinity;
    const now = this.now();
    // Timers fire up to a millisecond early on some platforms: what is due within it goes now.
    for (let top = this.heap[0]; top && top.dueAt <= now + 0.5; top = this.heap[0]) {
      this.unschedule(top);
      top.due(now);
    }
    const next = this.heap[0];
    if (next && next.dueAt < this.armedFor) this.arm(next.dueAt);
  }

  private siftUp(index: number): void {
    const heap = this.heap;
    const item = heap[index] as Timed;
    while (index > 0) {
      const parentIndex = (index - 1) >> 1;
      const parent = heap[parentIndex] as Timed;
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
    const item = heap[index] as Timed;
    for (;;) {
      const left = 2 * index + 1;
      if (left >= length) break;
      const right = left + 1;
      const child = right < length && (heap[right] as Timed).dueAt < (heap[left] as Timed).dueAt ? right : left;
      const childItem = heap[child] as Timed;
      if (childItem.dueAt >= item.dueAt) break;
      heap[index] = childItem;
      childItem.heapIndex = index;
      index = child;
    }
    heap[index] = item;
    item.heapIndex = index;
  }
}

/** The process's one link clock. */
export const linkClock = new LinkClock();
