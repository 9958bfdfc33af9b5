import type { LinkClock, Timed } from './link-clock.ts';

/**
 * One direction of a shaped connection: what waits to arrive, in order, each with the time it
 * arrives. Only the head is on the link clock; items due together are handed over in one wake.
 */
export class Lane<T> implements Timed {
  dueAt = 0;
  heapIndex = -1;
  private readonly times: number[] = [];
  private readonly items: T[] = [];
  private head = 0;

  constructor(
    private readonly clock: LinkClock,
    private readonly deliver: (item: T) => void,
  ) {}

  get length(): number {
    return this.items.length - this.head;
  }

  /** Queues `item` to arrive at `at`; times must not decrease (a stream never reorders). */
  push(at: number, item: T): void {
    this.times.push(at);
    this.items.push(item);
    if (this.length === 1) this.clock.schedule(this, at);
  }

  due(now: number): void {
    while (this.head < this.items.length && (this.times[this.head] as number) <= now + 0.5) {
      const item = this.items[this.head] as T;
      this.items[this.head] = undefined as T;
      this.head++;
      this.deliver(item);
      // Delivering may have cleared the lane (the connection was destroyed).
      if (this.heapIndex >= 0 || this.head === 0) return;
    }
    if (this.head === this.items.length) return this.reset();
    if (this.head > 1024) this.compact();
    this.clock.schedule(this, this.times[this.head] as number);
  }

  /** Takes whatever waits out of the lane, handing each to `take` in order. */
  flush(take: (item: T) => void): void {
    this.clock.unschedule(this);
    const items = this.items.slice(this.head);
    this.reset();
    for (const item of items) take(item);
  }

  /** Drops whatever waits. */
  clear(): void {
    this.clock.unschedule(this);
    this.reset();
  }

  private reset(): void {
    this.times.length = 0;
    this.items.length = 0;
    this.head = 0;
  }

  private compact(): void {
    this.times.splice(0, this.head);
    this.items.splice(0, this.head);
    this.head = 0;
  }
}
