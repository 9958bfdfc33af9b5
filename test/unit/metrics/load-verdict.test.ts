import { test } from 'node:test';
import assert from 'node:assert/strict';
import { classifyShortfall, DeliveryWindow, shortOfFloor } from '../../../src/metrics/load-verdict.ts';
import { GeneratorMonitor } from '../../../src/metrics/generator-monitor.ts';
import { RunStats } from '../../../src/metrics/stats.ts';
import { resultsOfStats } from '../../helpers/results.ts';

test('one classifier: the machine before fleetsim, fleetsim before its queue, the target last', () => {
  const calm = { busyPercent: 20, lagP99Ms: 2, runQueuePercent: 1 };
  assert.equal(classifyShortfall(calm, undefined), 'target');
  assert.equal(classifyShortfall({ ...calm, runQueuePercent: 45 }, undefined), 'host');
  assert.equal(classifyShortfall({ ...calm, stealPercent: 15 }, undefined), 'host');
  // Busy and waiting for a CPU: the machine is named, since fewer devices would not help.
  assert.equal(classifyShortfall({ busyPercent: 95, lagP99Ms: 200, runQueuePercent: 40 }, undefined), 'host');
  assert.equal(classifyShortfall({ busyPercent: 95, lagP99Ms: 200, runQueuePercent: 3 }, undefined), 'generator');
  assert.equal(classifyShortfall(calm, { queuedMeanMs: 80, latencyMeanMs: 20 }), 'queues');
  assert.equal(classifyShortfall(calm, { queuedMeanMs: 5, latencyMeanMs: 200 }), 'target');
  // Off Linux (no run-queue figure), lag with an idle loop is the machine's.
  assert.equal(classifyShortfall({ busyPercent: 10, lagP99Ms: 300 }, undefined), 'host');
});

test('a shortfall within counting noise is not one: three deviations of the count of lumps', () => {
  const lamps = { lump: 10, cycleS: 1.5, cv2: 1 / 12 / 2.25 };
  // 10 lamps bursting every 1-2 s over 4 s: 267 attempts offered; 220 delivered is 82%, within the noise.
  assert.equal(shortOfFloor(267, 220, 0.95, lamps, 4), false);
  // The same share from 1,000 lamps is far outside it.
  assert.equal(shortOfFloor(26_700, 22_000, 0.95, lamps, 4), true);
  // 200 devices on a fixed 1 s cycle for 4 s: each holds 4 tasks, give or take one; 90% is short.
  const paced = { lump: 1, cycleS: 1, cv2: 0 };
  assert.equal(shortOfFloor(800, 723, 0.95, paced, 4), true);
  assert.equal(shortOfFloor(800, 750, 0.95, paced, 4), false);
  // Without a model: a Poisson count.
  assert.equal(shortOfFloor(1200, 600, 0.95), true);
  assert.equal(shortOfFloor(1200, 1200, 0.95), false);
});

test("an interval's share is read over the trailing window, so a paced fleet's lumps do not read as shortfalls", () => {
  const window = new DeliveryWindow(10, 0.95);
  const calm = { busyPercent: 5, lagP99Ms: 1 };
  const loads = [];
  // 10 attempts a second offered; delivered as lumps of 50 every fifth second.
  for (let second = 0; second < 20; second++) loads.push(window.push(1, 10, second % 5 === 0 ? 50 : 0, calm, undefined));
  assert.ok(
    loads.slice(10).every((load) => load.deliveredShare === 1 && load.cause === 'delivered'),
    JSON.stringify(loads.slice(10)),
  );
  assert.equal(loads[19]?.windowS, 10);
  // Half the offered load for ten seconds: short, and the target's.
  for (let second = 0; second < 10; second++) loads.push(window.push(1, 10, 5, calm, undefined));
  assert.deepEqual([loads.at(-1)?.deliveredShare, loads.at(-1)?.cause], [0.5, 'target']);
});

test('lag is at least how late the interval timer ran, even when the lag sampler took no sample', () => {
  const monitor = new GeneratorMonitor();
  monitor.start();
  const health = monitor.sampleInterval(2500);
  monitor.stop();
  assert.ok(health.lagP99Ms >= 2500, `lag ${health.lagP99Ms} ms`);
});

test('a run that ends more than 2 s past its planned end says it overran, and by how much', () => {
  const stats = new RunStats();
  const started = new Date('2026-01-01T00:00:00Z');
  const overran = resultsOfStats(stats, { startedAt: started, endedAt: new Date(started.getTime() + 339_000), activeMs: 338_000, plannedDurationMs: 110_000 });
  assert.deepEqual(overran.overran, { plannedS: 110, byS: 228 });
  const onTime = resultsOfStats(stats, { startedAt: started, endedAt: new Date(started.getTime() + 11_500), activeMs: 11_000, plannedDurationMs: 10_000 });
  assert.equal(onTime.overran, undefined);
});

test('the run verdict weighs each cause by the load it cost, and is delivered at or above the floor', () => {
  const stats = new RunStats();
  stats.judgeLoad(1, 0.95);
  const entry = stats.entryFor('POST', '/data');
  entry.offers = true;
  const tick = (atMs: number, offered: number, delivered: number, runQueuePercent: number): void => {
    entry.offer(offered);
    for (let i = 0; i < delivered; i++) entry.record('ok', undefined, 1000, -1, 0, false);
    stats.snapshot(atMs, 1, 1, { busyPercent: 10, lagP99Ms: 1, runQueuePercent });
  };
  tick(1000, 100, 100, 0);
  tick(2000, 100, 20, 70); // the machine: 80 short
  tick(3000, 100, 50, 0); // the target: 50 short
  const results = resultsOfStats(stats, { minDelivered: 0.95, activeMs: 3000 });
  assert.equal(results.load?.cause, 'host');
  assert.equal(results.load?.deliveredShare, 0.5667);
  assert.deepEqual(results.load?.intervals, { delivered: 1, target: 1, generator: 0, host: 1, queues: 0 });
  assert.match(results.load?.advice ?? '', /quieter machine/);
  const off = resultsOfStats(stats, { minDelivered: null, activeMs: 3000 });
  assert.equal(off.load?.cause, 'delivered');
  assert.match(off.load?.summary ?? '', /the check is off/);
});
