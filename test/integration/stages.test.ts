import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { HttpFixture } from '../../broker-fixture/index.ts';
import { Engine } from '../../src/engine/engine.ts';
import type { AttemptRecord, StopReason } from '../../src/engine/events.ts';
import { devicesAt } from '../../src/engine/schedule/stages.ts';
import { loadRunPlan } from '../../src/profile/load.ts';
import type { RunPlan } from '../../src/profile/types.ts';
import { TempDir } from '../helpers/temp-files.ts';

let temp: TempDir;
before(async () => {
  temp = await TempDir.create();
});
after(async () => {
  await temp.remove();
});

const device = (waitMs: number): string => `kind: device
name: probe
tasks:
  - name: /data
    http:
      method: POST
      path: /data
      json:
        temperature: "{{ int(1, 1000000) }}"
        humidity: "{{ float(0, 100) }}"
wait: { model: constant, time: ${waitMs}ms }
`;

async function planFor(name: string, waitMs: number, profileExtra: string): Promise<RunPlan> {
  await temp.write(`${name}.device.yaml`, device(waitMs));
  return loadRunPlan(await temp.write(`${name}.yaml`, `seed: 11\nfleet:\n  - device: ${name}.device.yaml\n    count: 1\n${profileExtra}`));
}

/** The planned count's range over [at - 1 s, at + 1 s]: what "on plan, ±1 s" allows at `at`. */
function plannedRange(stages: RunPlan['stages'] & object, at: number): [number, number] {
  let low = Infinity;
  let high = -Infinity;
  for (let t = Math.max(0, at - 1000); t <= at + 1000; t += 5) {
    const n = devicesAt(stages, t);
    low = Math.min(low, n);
    high = Math.max(high, n);
  }
  return [low, high];
}

test('stages 0→40 over 4 s, hold 2 s, 40→10 over 2 s: starts and stops on plan, highest index stopped first', { timeout: 40_000 }, async () => {
  const plan = await planFor('shape', 50, 'stages:\n  - { duration: 4s, devices: 40 }\n  - { duration: 2s, devices: 40 }\n  - { duration: 2s, devices: 10 }\n');
  const stages = plan.stages ?? [];
  assert.equal(plan.devices, 40);
  const fixture = new HttpFixture({ latencyMs: 20 });
  const engine = new Engine({ plan, target: await fixture.listen(0), snapshotIntervalMs: 250 });
  const startedAt = new Map<number, number>();
  const retiredAt = new Map<number, number>();
  const retireOrder: number[] = [];
  const running = new Set<number>();
  const violations: string[] = [];
  const attempts: AttemptRecord[] = [];
  let samples = 0;
  const sample = (at: number): void => {
    samples++;
    const count = engine.runningDevices;
    if (running.size !== count) violations.push(`${running.size} devices running but the engine counts ${count} at ${at} ms`);
    for (const index of running) if (index >= count) violations.push(`device ${index} running with ${count} devices at ${at} ms`);
    const [low, high] = plannedRange(stages, at);
    if (count < low || count > high) violations.push(`${count} devices at ${Math.round(at)} ms, planned ${low}–${high} within 1 s`);
  };
  engine.on('spawn', (index) => {
    const at = engine.elapsedMs();
    assert.ok(!startedAt.has(index), `device ${index} started twice`);
    startedAt.set(index, at);
    running.add(index);
    sample(at);
  });
  engine.on('retire', (index, left) => {
    const at = engine.elapsedMs();
    retiredAt.set(index, at);
    retireOrder.push(index);
    running.delete(index);
    assert.equal(left, running.size);
    sample(at);
  });
  engine.on('attempt', (record) => attempts.push(record));
  let reason: StopReason = 'requested';
  engine.on('done', (r) => (reason = r));
  const sampler = setInterval(() => {
    if (!engine.stopping) sample(engine.elapsedMs());
  }, 50);
  try {
    const times = await engine.run();
    assert.ok(times.activeMs >= 7900, `the run stopped after ${times.activeMs} ms of 8 s`);
  } finally {
    clearInterval(sampler);
    await fixture.close();
  }

  assert.equal(reason, 'duration');
  assert.deepEqual(violations, []);
  assert.ok(samples > 100, `only ${samples} samples`);
  // Starts: device i at i × 100 ms.
  assert.deepEqual(
    [...startedAt.keys()].sort((a, b) => a - b),
    Array.from({ length: 40 }, (_, i) => i),
  );
  for (const [index, at] of startedAt) assert.ok(Math.abs(at - index * 100) <= 1000, `device ${index} started at ${Math.round(at)} ms, planned ${index * 100}`);
  // Stops: the highest first, 30 of them from 6 s, one every 2000/30 ms.
  assert.deepEqual(
    retireOrder,
    Array.from({ length: 30 }, (_, k) => 39 - k),
  );
  for (const [index, at] of retiredAt) {
    const planned = 6000 + ((39 - index) * 2000) / 30;
    assert.ok(Math.abs(at - planned) <= 1000, `device ${index} stopped at ${Math.round(at)} ms, planned ${Math.round(planned)}`);
  }
  // A stopped device starts nothing after it is stopped; what it had in flight ended and counted.
  for (const record of attempts) {
    const stoppedAt = retiredAt.get(record.deviceIndex);
    if (stoppedAt !== undefined) assert.ok(record.intendedAtMs <= stoppedAt + 1, `device ${record.deviceIndex} sent at ${record.intendedAtMs} ms, stopped at ${stoppedAt} ms`);
    assert.equal(record.outcome, 'ok', `${record.deviceIndex} ${record.intendedAtMs}: ${record.error}`);
  }
  const data = engine.stats.entryFor('POST', '/data');
  assert.equal(data.requests, attempts.length);
  assert.equal(fixture.counts['POST /data']?.requests, data.requests, 'every request the target served is counted');
  assert.equal(engine.abandoned, 0);
  // Devices online over time follow the shape.
  const history = engine.stats.history.points.filter((point) => point.atS * 1000 < 7800);
  assert.ok(history.length >= 25, `${history.length} snapshots`);
  for (const point of history) {
    const [low, high] = plannedRange(stages, point.atS * 1000);
    assert.ok(point.devicesOnline >= low && point.devicesOnline <= high, `${point.devicesOnline} online at ${point.atS} s, planned ${low}–${high}`);
    assert.ok(point.devicesTarget >= low && point.devicesTarget <= high, `population ${point.devicesTarget} at ${point.atS} s, planned ${low}–${high}`);
  }
  assert.equal(engine.targetDevices, 10);
  assert.equal(engine.timeToAllOnlineMs !== undefined && Math.abs(engine.timeToAllOnlineMs - 3900) <= 1000, true, `all online at ${engine.timeToAllOnlineMs} ms`);
});

test('a device stopped and started again is a new one with the same identity and random stream; falling to 0 does not end the run', { timeout: 30_000 }, async () => {
  const plan = await planFor(
    'restart',
    100,
    'stages:\n  - { duration: 300ms, devices: 3 }\n  - { duration: 700ms, devices: 3 }\n  - { duration: 200ms, devices: 0 }\n  - { duration: 500ms, devices: 0 }\n  - { duration: 200ms, devices: 3 }\n  - { duration: 700ms, devices: 3 }\n',
  );
  const fixture = new HttpFixture();
  const engine = new Engine({ plan, target: await fixture.listen(0) });
  const spawns: number[] = [];
  const retires: number[] = [];
  const attempts: AttemptRecord[] = [];
  engine.on('spawn', (index) => spawns.push(index));
  engine.on('retire', (index) => retires.push(index));
  engine.on('attempt', (record) => attempts.push(record));
  let reason: StopReason = 'requested';
  engine.on('done', (r) => (reason = r));
  const times = await engine.run().finally(() => fixture.close());
  assert.equal(reason, 'duration');
  assert.ok(times.activeMs >= 2500, `stopped after ${times.activeMs} ms of 2.6 s`);
  assert.deepEqual(spawns, [0, 1, 2, 0, 1, 2]);
  assert.deepEqual(retires, [2, 1, 0]);
  assert.equal(engine.started, 6);
  for (let index = 0; index < 3; index++) {
    const mine = attempts.filter((record) => record.deviceIndex === index);
    // seq starts again at 0 for the new device.
    const second = mine.findIndex((record, i) => i > 0 && record.seq === 0);
    assert.ok(second > 2, `device ${index}: ${mine.map((record) => record.seq).join(',')}`);
    const [first, again] = [mine.slice(0, second), mine.slice(second)];
    assert.ok(again.length >= 3, `device ${index} sent ${again.length} times after its restart`);
    assert.deepEqual(new Set(mine.map((record) => record.device)).size, 1, 'the same device id');
    assert.deepEqual(
      again.slice(0, 3).map((record) => record.body),
      first.slice(0, 3).map((record) => record.body),
      `device ${index} draws the same values from the start of its stream`,
    );
  }
});

test('spawn mode all-at-once: 200 devices start in one tick and the time until all are online is kept', { timeout: 30_000 }, async () => {
  await temp.write('storm.device.yaml', device(1000));
  const plan = await loadRunPlan(await temp.write('storm.yaml', 'seed: 2\nfleet:\n  - device: storm.device.yaml\n    count: 200\nspawn: { mode: all-at-once }\nduration: 1500ms\n'));
  const fixture = new HttpFixture();
  const engine = new Engine({ plan, target: await fixture.listen(0) });
  let tick = 0;
  const ticks = new Set<number>();
  engine.on('spawn', () => {
    // Any spawn after the first one's tick ended would see the marker moved on.
    if (ticks.size === 0) setImmediate(() => tick++);
    ticks.add(tick);
  });
  await engine.run().finally(() => fixture.close());
  assert.equal(engine.started, 200);
  assert.deepEqual([...ticks], [0], 'every device started in the first tick');
  assert.equal(typeof engine.timeToAllOnlineMs, 'number');
  assert.ok((engine.timeToAllOnlineMs ?? Infinity) < 1500);
  assert.equal(engine.stats.entryFor('POST', '/data').requests, fixture.counts['POST /data']?.requests);
});

test('the runtime API: rampTo moves a running engine, targetDevices says where it heads, the fleet size is the ceiling', { timeout: 30_000 }, async () => {
  const plan = await planFor('api', 50, 'duration: 2s\nspawn: { mode: all-at-once }\n');
  const fixture = new HttpFixture();
  const engine = new Engine({ plan, target: await fixture.listen(0) });
  assert.throws(() => engine.rampTo(1, 0), /the run has not started/);
  const retired: number[] = [];
  engine.on('retire', (index) => retired.push(index));
  let reason: StopReason = 'requested';
  engine.on('done', (r) => (reason = r));
  const run = engine.run();
  try {
    assert.equal(engine.runningDevices, 1);
    assert.throws(() => engine.rampTo(2, 0), RangeError);
    engine.rampTo(0, 0);
    assert.equal(engine.targetDevices, 0);
    assert.equal(engine.runningDevices, 0);
    assert.deepEqual(retired, [0]);
    engine.rampTo(1, 200);
    assert.equal(engine.targetDevices, 1);
    assert.equal(engine.runningDevices, 1, 'a ramp from 0 starts its first device at once');
  } finally {
    await run.finally(() => fixture.close());
  }
  assert.equal(reason, 'duration');
  assert.equal(engine.started, 2);
});
