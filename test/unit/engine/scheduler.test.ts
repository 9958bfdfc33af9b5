import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { Scheduler } from '../../../src/engine/schedule/scheduler.ts';
import type { Schedulable, TimerApi } from '../../../src/engine/schedule/scheduler.ts';
import { deviceRandom } from '../../../src/identity/rng.ts';

/** A clock and a timer API that only move when the test advances them. */
class FakeTime implements TimerApi {
  time = 0;
  private nextHandle = 1;
  readonly pending = new Map<number, { at: number; callback: () => void }>();
  armed = 0;

  now(): number {
    return this.time;
  }
  setTimeout(callback: () => void, ms: number): unknown {
    this.armed++;
    const handle = this.nextHandle++;
    this.pending.set(handle, { at: this.time + ms, callback });
    return handle;
  }
  clearTimeout(handle: unknown): void {
    this.pending.delete(handle as number);
  }

  /** Moves time forward to `to`, firing timers in order as a real event loop would. */
  advance(to: number): void {
    for (;;) {
      let first: [number, { at: number; callback: () => void }] | undefined;
      for (const entry of this.pending) if (entry[1].at <= to && (!first || entry[1].at < first[1].at)) first = entry;
      if (!first) break;
      this.pending.delete(first[0]);
      this.time = Math.max(this.time, first[1].at);
      first[1].callback();
    }
    this.time = to;
  }
}

function sleeper(name: string, woken: string[], onWake?: () => void): Schedulable {
  return {
    dueAt: 0,
    heapIndex: -1,
    wake() {
      woken.push(name);
      onWake?.();
    },
  };
}

describe('Scheduler', () => {
  test('wakes items in due order with one timer armed at a time', () => {
    const time = new FakeTime();
    const scheduler = new Scheduler(time, time);
    const woken: string[] = [];
    scheduler.schedule(sleeper('c', woken), 300);
    scheduler.schedule(sleeper('a', woken), 100);
    scheduler.schedule(sleeper('b', woken), 200);
    assert.equal(time.pending.size, 1, 'one timer for the whole heap');
    assert.equal([...time.pending.values()][0]?.at, 100, 'armed for the earliest item');
    time.advance(99);
    assert.deepEqual(woken, []);
    time.advance(150);
    assert.deepEqual(woken, ['a']);
    time.advance(1000);
    assert.deepEqual(woken, ['a', 'b', 'c']);
    assert.equal(scheduler.size, 0);
    assert.equal(time.pending.size, 0, 'no timer left once the heap is empty');
  });

  test('items due within a millisecond of each other wake together', () => {
    const time = new FakeTime();
    const scheduler = new Scheduler(time, time);
    const woken: string[] = [];
    scheduler.schedule(sleeper('a', woken), 10);
    scheduler.schedule(sleeper('b', woken), 10.6);
    scheduler.schedule(sleeper('c', woken), 12);
    time.advance(10);
    assert.deepEqual(woken, ['a', 'b']);
  });

  test('an item woken may schedule itself again', () => {
    const time = new FakeTime();
    const scheduler = new Scheduler(time, time);
    const woken: string[] = [];
    const item: Schedulable = sleeper('tick', woken, () => {
      if (woken.length < 5) scheduler.schedule(item, time.now() + 1000);
    });
    scheduler.schedule(item, 0);
    time.advance(10_000);
    assert.equal(woken.length, 5);
  });

  test('clear drops everything without waking it', () => {
    const time = new FakeTime();
    const scheduler = new Scheduler(time, time);
    const woken: string[] = [];
    const items = ['a', 'b', 'c'].map((name) => sleeper(name, woken));
    items.forEach((item, i) => scheduler.schedule(item, 100 * (i + 1)));
    scheduler.clear();
    time.advance(1000);
    assert.deepEqual(woken, []);
    assert.ok(items.every((item) => item.heapIndex === -1));
    assert.equal(time.pending.size, 0);
  });

  test('10,000 items with random due times wake in non-decreasing order, each once', () => {
    const time = new FakeTime();
    const scheduler = new Scheduler(time, time);
    const random = deviceRandom('heap', 0);
    const wokenAt: number[] = [];
    let count = 0;
    for (let i = 0; i < 10_000; i++) {
      const item: Schedulable = {
        dueAt: 0,
        heapIndex: -1,
        wake() {
          count++;
          wokenAt.push(this.dueAt);
        },
      };
      scheduler.schedule(item, Math.floor(random() * 60_000));
    }
    time.advance(60_000);
    assert.equal(count, 10_000);
    for (let i = 1; i < wokenAt.length; i++) assert.ok((wokenAt[i] as number) >= (wokenAt[i - 1] as number), `out of order at ${i}`);
    assert.ok(time.armed < 10_000, `armed ${time.armed} timers for 10,000 items`);
  });
});
