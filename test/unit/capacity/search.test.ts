import { test } from 'node:test';
import assert from 'node:assert/strict';
import { EventEmitter } from 'node:events';
import { CapacitySearch } from '../../../src/capacity/search.ts';
import type { CapacityOptions, SteerableRun } from '../../../src/capacity/search.ts';
import type { HistoryPoint, IntervalHealth } from '../../../src/metrics/history.ts';
import { RunStats } from '../../../src/metrics/stats.ts';
import { capacityVerdict, formatCapacity } from '../../../src/report/capacity-console.ts';

/** What one interval of the fake fleet does at `devices` devices, on its `visit`-th measurement of that count. */
interface Interval {
  readonly delivered: number;
  readonly latencyMs: number;
  readonly health: IntervalHealth;
}
type Scenario = (devices: number, visit: number) => Interval;

const CALM: IntervalHealth = { busyPercent: 10, lagP99Ms: 1, runQueuePercent: 0 };
const PER_DEVICE = 10;

/**
 * A fleet the search can steer, with no sockets: every interval each device offers 10 attempts and
 * the scenario says how many were delivered, how fast, and how the generator and machine fared.
 * The real RunStats and window judge it, so the search is tested on the same numbers a run gives.
 */
class FakeRun extends EventEmitter<{ interval: [HistoryPoint] }> implements SteerableRun {
  readonly stats = new RunStats();
  online = 0;
  stopping = false;
  private readonly entry = this.stats.entryFor('POST', '/data');
  private atMs = 0;
  private readonly visits = new Map<number, number>();
  /** Device counts the search moved to, in order. */
  readonly moves: number[] = [];

  constructor(private readonly scenario: Scenario) {
    super();
    this.entry.offers = true;
    this.stats.judgeLoad(1, 0.95);
  }

  rampTo(devices: number): void {
    this.online = devices;
    this.moves.push(devices);
    this.visits.set(devices, (this.visits.get(devices) ?? 0) + 1);
  }

  /** Closes intervals until the search is done. */
  async drive(done: Promise<unknown>): Promise<void> {
    let finished = false;
    void done.finally(() => (finished = true));
    while (!finished) {
      await new Promise((resolve) => setImmediate(resolve));
      const devices = this.online;
      const { delivered, latencyMs, health } = this.scenario(devices, this.visits.get(devices) ?? 0);
      this.entry.offer(devices * PER_DEVICE);
      for (let i = 0; i < delivered; i++) this.entry.record('ok', undefined, latencyMs * 1000, -1, 0, false);
      this.atMs += 1000;
      this.emit('interval', this.stats.snapshot(this.atMs, devices, devices, health));
    }
  }
}

function options(overrides: Partial<CapacityOptions> = {}): CapacityOptions {
  return {
    slos: ['p95 < 100ms'],
    plan: { start: 5, step: 5, maxDevices: 40 },
    stepIntervals: 2,
    settleIntervals: 0,
    spawnRate: 1_000_000,
    refine: false,
    minDelivered: 0.95,
    repeat: 0,
    ...overrides,
  };
}

async function search(scenario: Scenario, overrides: Partial<CapacityOptions> = {}) {
  const run = new FakeRun(scenario);
  const searching = new CapacitySearch(run, options(overrides)).search();
  await run.drive(searching);
  return { result: await searching, run };
}

/** A target that answers at most 100 attempts per interval (10 devices' worth), fast, on a calm machine. */
const ceiling =
  (capacity = 100): Scenario =>
  (devices) => ({ delivered: Math.min(devices * PER_DEVICE, capacity), latencyMs: 5, health: CALM });

test('a target that answers fewer than offered fails the step on its delivered share: limited by the target', async () => {
  const { result } = await search(ceiling());
  assert.equal(result.limitedBy, 'target');
  assert.deepEqual(result.capacity, { devices: 10, rps: 100 });
  const failing = result.steps.find((step) => !step.ok);
  assert.equal(failing?.devices, 15);
  assert.equal(failing?.cause, 'target');
  assert.equal(failing?.offeredRps, 150);
  assert.equal(failing?.deliveredShare, 0.6667);
  assert.deepEqual(failing?.failedSlos, [], 'the SLO held: only the delivered share failed');
  for (const step of result.steps.filter((step) => step.ok)) assert.ok((step.deliveredShare ?? 0) >= 0.95);
});

test('with the floor off, only the SLOs judge: the same target passes every step', async () => {
  const { result } = await search(ceiling(), { minDelivered: null });
  assert.equal(result.limitedBy, 'max-devices');
  assert.equal(result.capacity?.devices, 40);
});

test("a step short because fleetsim's own loop was busy is the generator's limit, after one retry", async () => {
  const { result } = await search((devices) => (devices >= 15 ? { delivered: 60, latencyMs: 5, health: { busyPercent: 97, lagP99Ms: 80, runQueuePercent: 1 } } : ceiling(1000)(devices, 1)));
  assert.equal(result.limitedBy, 'generator');
  assert.equal(result.capacity?.devices, 10);
  const at15 = result.steps.filter((step) => step.devices === 15);
  assert.deepEqual(
    at15.map((step) => step.repeat),
    [undefined, 'retry'],
  );
  assert.ok(at15.every((step) => step.cause === 'generator'));
});

test('a step short because the machine gave fleetsim no CPU is never blamed on the target: retried, then host', async () => {
  const starved: IntervalHealth = { busyPercent: 40, lagP99Ms: 300, runQueuePercent: 70, otherCpuPercent: 90 };
  const { result } = await search((devices) => (devices >= 15 ? { delivered: 50, latencyMs: 400, health: starved } : ceiling(1000)(devices, 1)), { retries: 2 });
  assert.equal(result.limitedBy, 'host');
  assert.equal(result.steps.filter((step) => step.devices === 15).length, 3, 'measured once and retried twice');
  assert.ok(result.steps.every((step) => step.ok || step.cause === 'host'));
});

test('a passing retry after a busy moment on the machine carries the search on to the target', async () => {
  const starved: IntervalHealth = { busyPercent: 40, lagP99Ms: 300, runQueuePercent: 70 };
  const { result } = await search((devices, visit) => {
    if (devices === 15 && visit === 1) return { delivered: 60, latencyMs: 300, health: starved };
    return ceiling(200)(devices, visit);
  });
  assert.equal(result.limitedBy, 'target');
  assert.equal(result.capacity?.devices, 20);
  assert.deepEqual(
    result.steps.filter((step) => step.devices === 15).map((step) => [step.ok, step.cause]),
    [
      [false, 'host'],
      [true, 'delivered'],
    ],
  );
});

test('whose limit it was comes from the first failing step, not from a bisected step that failed later', async () => {
  const starved: IntervalHealth = { busyPercent: 40, lagP99Ms: 300, runQueuePercent: 70 };
  const { result } = await search(
    (devices) => {
      if (devices <= 10) return ceiling(1000)(devices, 1);
      // Bisection visits 11..14 on a starved machine; 15 fails on the target.
      if (devices < 15) return { delivered: 10, latencyMs: 500, health: starved };
      return ceiling(80)(devices, 1);
    },
    { refine: true, plan: { start: 10, step: 5, maxDevices: 40 }, retries: 0 },
  );
  assert.equal(result.steps.find((step) => !step.ok && !step.refined)?.devices, 15);
  assert.ok(
    result.steps.some((step) => step.refined && step.cause === 'host'),
    'a bisected step was short for the host',
  );
  assert.equal(result.limitedBy, 'target');
});

test('an SLO that breaks while the load is delivered is the target too', async () => {
  const { result } = await search((devices) => ({ delivered: devices * PER_DEVICE, latencyMs: devices * 5, health: CALM }));
  assert.equal(result.limitedBy, 'target');
  assert.equal(result.capacity?.devices, 15);
  const failing = result.steps.find((step) => !step.ok);
  assert.deepEqual(failing?.failedSlos, ['p95 < 100ms']);
  assert.equal(failing?.cause, 'delivered');
});

test('--repeat measures both sides of the knee again and says whether it held', async () => {
  const steady = await search(ceiling(), { repeat: 2 });
  assert.deepEqual(
    steady.result.knee?.repeats.map((side) => [side.devices, side.passed, side.of]),
    [
      [10, 3, 3],
      [15, 0, 3],
    ],
  );
  assert.equal(steady.result.knee?.stable, true);
  assert.equal(steady.result.capacity?.devices, 10);

  // A knee that moves with the noise: 10 devices pass only on their first visit.
  const noisy = await search((devices, visit) => (devices === 10 && visit > 1 ? { delivered: 50, latencyMs: 5, health: CALM } : ceiling()(devices, visit)), { repeat: 2 });
  const side = noisy.result.knee?.repeats[0];
  assert.deepEqual([side?.devices, side?.passed, side?.of], [10, 1, 3]);
  assert.equal(noisy.result.knee?.stable, false);
});

test('a step below the floor by no more than counting noise is measured longer, then the floor itself decides', async () => {
  // 10 devices: 92 of 100 a second is 92%, within the noise of one 2 s window; 15 devices deliver in full.
  const { result } = await search((devices) => ({ delivered: devices === 10 ? 92 : devices * PER_DEVICE, latencyMs: 5, health: CALM }), { plan: { start: 5, step: 5, maxDevices: 15 } });
  const at10 = result.steps.find((step) => step.devices === 10);
  assert.ok(at10);
  assert.equal(at10.windowS[1] - at10.windowS[0], 6, 'three windows of 2 s');
  assert.equal(at10.ok, false);
  assert.equal(at10.cause, 'target');
  assert.equal(result.capacity?.devices, 5);
  for (const step of result.steps.filter((step) => step.ok)) assert.ok((step.deliveredShare ?? 0) >= 0.95);
});

test('a step that failed and passed on its retry is neither the knee nor whose limit it was', async () => {
  const starved: IntervalHealth = { busyPercent: 40, lagP99Ms: 300, runQueuePercent: 70 };
  const { result } = await search((devices, visit) => (devices === 10 && visit === 1 ? { delivered: 20, latencyMs: 300, health: starved } : ceiling(150)(devices, visit)));
  assert.equal(result.limitedBy, 'target');
  const decisive = result.firstFailing === undefined ? undefined : result.steps[result.firstFailing];
  assert.equal(decisive?.devices, 20);
  const table = formatCapacity(result);
  assert.match(table, /^\s+20\s.*<- knee$/m);
  assert.doesNotMatch(table, /^\s+10\s.*<- knee$/m);
  assert.match(capacityVerdict(result), /at 20 devices/);
});
