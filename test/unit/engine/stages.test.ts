import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { Ramp, rampStepsDue } from '../../../src/engine/schedule/ramp.ts';
import type { RampHost } from '../../../src/engine/schedule/ramp.ts';
import type { Schedulable } from '../../../src/engine/schedule/scheduler.ts';
import { describeStages, devicesAt, StageDriver } from '../../../src/engine/schedule/stages.ts';
import { formatDuration } from '../../../src/profile/duration.ts';

const SHAPE = [
  { durationMs: 4000, devices: 40 },
  { durationMs: 2000, devices: 40 },
  { durationMs: 2000, devices: 10 },
];

describe('ramp steps', () => {
  test('a ramp runs one step ahead of the straight line: the first at once, the last one interval before the end', () => {
    assert.equal(rampStepsDue(40, 4000, 0), 1);
    assert.equal(rampStepsDue(40, 4000, 99.9), 1);
    assert.equal(rampStepsDue(40, 4000, 100), 2);
    assert.equal(rampStepsDue(40, 4000, 3899), 39);
    assert.equal(rampStepsDue(40, 4000, 3900), 40);
    assert.equal(rampStepsDue(40, 4000, 10_000), 40);
    assert.equal(rampStepsDue(40, 4000, -1), 0);
  });

  test('no time, or no steps, is all at once', () => {
    assert.equal(rampStepsDue(200, 0, 0), 200);
    assert.equal(rampStepsDue(0, 1000, 500), 0);
  });

  test('a spawn rate R is a ramp of N devices over N/R seconds: device k starts at k/R s', () => {
    // 10 devices at 4/s: starts at 0, 250, 500, ... 2250 ms.
    for (let k = 0; k < 10; k++) {
      assert.equal(rampStepsDue(10, 2500, k * 250), k + 1, `device ${k}`);
      assert.equal(rampStepsDue(10, 2500, k * 250 - 0.5), k, `before device ${k}`);
    }
  });
});

describe('device count at time t', () => {
  test('0 → 40 over 4 s, hold 2 s, 40 → 10 over 2 s', () => {
    assert.equal(devicesAt(SHAPE, 0), 1);
    assert.equal(devicesAt(SHAPE, 1950), 20);
    assert.equal(devicesAt(SHAPE, 3950), 40);
    assert.equal(devicesAt(SHAPE, 4000), 40);
    assert.equal(devicesAt(SHAPE, 5999), 40);
    // 30 stops over 2 s, one every 66.7 ms, the first at once.
    assert.equal(devicesAt(SHAPE, 6000), 39);
    assert.equal(devicesAt(SHAPE, 7000), 24);
    assert.equal(devicesAt(SHAPE, 7990), 10);
    assert.equal(devicesAt(SHAPE, 8000), 10);
    assert.equal(devicesAt(SHAPE, 60_000), 10);
  });

  test('a stage whose target is the current count holds it; a count can fall to 0 and rise again', () => {
    const shape = [
      { durationMs: 1000, devices: 5 },
      { durationMs: 1000, devices: 0 },
      { durationMs: 1000, devices: 0 },
      { durationMs: 500, devices: 5 },
    ];
    assert.equal(devicesAt(shape, 999), 5);
    assert.equal(devicesAt(shape, 1000), 4);
    assert.equal(devicesAt(shape, 1900), 0);
    assert.equal(devicesAt(shape, 2500), 0);
    assert.equal(devicesAt(shape, 3000), 1);
    assert.equal(devicesAt(shape, 3400), 5);
  });

  test('the count stays between where a stage starts and its target', () => {
    for (let t = 0; t <= 8000; t += 7) {
      const n = devicesAt(SHAPE, t);
      assert.ok(n >= 0 && n <= 40, `${n} at ${t} ms`);
      if (t >= 6000) assert.ok(n >= 10, `${n} at ${t} ms`);
    }
  });

  test('the stage plan reads one line per stage', () => {
    assert.deepEqual(describeStages(SHAPE, formatDuration), ['stage 1: 0 → 40 devices over 4s (0s–4s)', 'stage 2: hold 40 devices for 2s (4s–6s)', 'stage 3: 40 → 10 devices over 2s (6s–8s)']);
  });
});

/** A host whose clock only moves when the test says, recording what the ramp did. */
class FakeHost implements RampHost {
  time = 0;
  stopping = false;
  readonly started: number[] = [];
  readonly stopped: [index: number, running: number][] = [];
  queued: Schedulable | undefined;

  now(): number {
    return this.time;
  }
  schedule(item: Schedulable, dueAt: number): void {
    item.dueAt = dueAt;
    this.queued = item;
  }
  unschedule(item: Schedulable): void {
    if (this.queued === item) this.queued = undefined;
  }
  startDevice(index: number): void {
    this.started.push(index);
  }
  stopDevice(index: number, running: number): void {
    this.stopped.push([index, running]);
  }
  /** Runs what is queued up to `to`, as the one-timer scheduler would. */
  advance(to: number): void {
    while (this.queued && this.queued.dueAt <= to) {
      const item = this.queued;
      this.queued = undefined;
      this.time = Math.max(this.time, item.dueAt);
      item.wake();
    }
    this.time = to;
  }
}

describe('the ramp', () => {
  test('starts the next indices going up and stops the highest first going down, one wake per step', () => {
    const host = new FakeHost();
    const ramp = new Ramp(host);
    ramp.rampTo(4, 400);
    assert.deepEqual(host.started, [0]);
    assert.equal(host.queued?.dueAt, 100);
    host.advance(1000);
    assert.deepEqual(host.started, [0, 1, 2, 3]);
    assert.equal(ramp.population, 4);
    assert.ok(ramp.settled);
    ramp.rampTo(1, 300);
    host.advance(2000);
    assert.deepEqual(host.stopped, [
      [3, 3],
      [2, 2],
      [1, 1],
    ]);
    ramp.rampTo(3, 0);
    assert.deepEqual(host.started, [0, 1, 2, 3, 1, 2]);
  });

  test('a new ramp starts from the count the previous one owes by then', () => {
    const host = new FakeHost();
    const ramp = new Ramp(host);
    ramp.rampTo(10, 1000);
    host.advance(450);
    assert.equal(ramp.population, 5);
    // Redirected mid-ramp at 500 ms: the 6th device was due then and starts first.
    host.time = 500;
    ramp.rampTo(2, 0);
    assert.deepEqual(host.started, [0, 1, 2, 3, 4, 5]);
    assert.deepEqual(
      host.stopped.map(([index]) => index),
      [5, 4, 3, 2],
    );
    assert.equal(ramp.goal, 2);
    assert.equal(host.queued, undefined);
  });

  test('a stopping engine starts nothing more', () => {
    const host = new FakeHost();
    const ramp = new Ramp(host);
    ramp.rampTo(10, 1000);
    host.stopping = true;
    host.advance(2000);
    assert.deepEqual(host.started, [0]);
  });
});

test('the stage driver ramps each stage at its planned time through the runtime API', () => {
  const calls: [number, number, number][] = [];
  const queue: Schedulable[] = [];
  let time = 0;
  const driver = new StageDriver(
    {
      rampTo: (devices, overMs) => calls.push([time, devices, overMs]),
      now: () => time,
      schedule: (item, dueAt) => {
        item.dueAt = dueAt;
        queue.push(item);
      },
    },
    SHAPE,
  );
  driver.start();
  // Wakes come late; the boundaries stay where the plan put them.
  for (let item = queue.shift(); item; item = queue.shift()) {
    time = item.dueAt + 7;
    item.wake();
  }
  assert.deepEqual(calls, [
    [0, 40, 4000],
    [4007, 40, 2000],
    [6007, 10, 2000],
  ]);
});
