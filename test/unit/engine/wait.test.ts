import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { bindModel } from '../../../src/engine/device/bound-model.ts';
import { VirtualDevice } from '../../../src/engine/device/device.ts';
import type { DeviceHost } from '../../../src/engine/device/device-host.ts';
import type { StatsEntry } from '../../../src/metrics/stats.ts';
import { nextTick } from '../../../src/engine/schedule/wait.ts';
import type { NextTick } from '../../../src/engine/schedule/wait.ts';
import { deviceRandom } from '../../../src/identity/rng.ts';
import type { Random } from '../../../src/identity/rng.ts';
import { RunStats } from '../../../src/metrics/stats.ts';
import { loadDeviceModel } from '../../../src/profile/load.ts';
import type { DeviceModel, WaitModel } from '../../../src/profile/types.ts';
import type { HttpExchange } from '../../../src/transport/http/http-exchange.ts';
import { HttpExchangePool } from '../../../src/transport/http/http-exchange-pool.ts';
import type { AttemptResult } from '../../../src/transport/types.ts';
import { TempDir } from '../../helpers/temp-files.ts';

const fresh = (): NextTick => ({ startAt: 0, intendedAt: 0, missed: 0 });
const never = (): number => assert.fail('this wait model must not draw randomness');

describe('nextTick', () => {
  test('constant waits its time after the task ended', () => {
    const tick = nextTick({ model: 'constant', timeMs: 250 }, never, 0, 1000, fresh());
    assert.deepEqual(tick, { startAt: 1250, intendedAt: 1250, missed: 0 });
  });

  test('between draws from the device stream inside its bounds', () => {
    const wait: WaitModel = { model: 'between', minMs: 1000, maxMs: 2000 };
    const a = deviceRandom('7', 1);
    const b = deviceRandom('7', 1);
    let sum = 0;
    for (let i = 0; i < 1000; i++) {
      const tick = nextTick(wait, a, 0, 500, fresh());
      assert.ok(tick.startAt >= 1500 && tick.startAt < 2500, `between out of bounds: ${tick.startAt}`);
      assert.equal(tick.startAt, nextTick(wait, b, 0, 500, fresh()).startAt, 'the same stream gives the same waits');
      sum += tick.startAt - 500;
    }
    assert.ok(Math.abs(sum / 1000 - 1500) < 40, `mean wait ${sum / 1000}`);
  });

  test('pacing keeps a fixed grid when tasks are shorter than the interval', () => {
    const wait: WaitModel = { model: 'pacing', intervalMs: 5000 };
    assert.deepEqual(nextTick(wait, never, 0, 120, fresh()), { startAt: 5000, intendedAt: 5000, missed: 0 });
    // A slow task does not shift the grid: the next tick is still at 10 s.
    assert.deepEqual(nextTick(wait, never, 5000, 9000, fresh()), { startAt: 10_000, intendedAt: 10_000, missed: 0 });
  });

  test('pacing starts late, not never, when a task overruns less than an interval', () => {
    const tick = nextTick({ model: 'pacing', intervalMs: 5000 }, never, 0, 7000, fresh());
    assert.deepEqual(tick, { startAt: 7000, intendedAt: 5000, missed: 0 });
  });

  test('pacing counts whole intervals that passed while a task overran', () => {
    // Intended at 0, ended at 17 s: ticks at 5 s and 10 s are gone, 15 s starts late at 17 s.
    const tick = nextTick({ model: 'pacing', intervalMs: 5000 }, never, 0, 17_000, fresh());
    assert.deepEqual(tick, { startAt: 17_000, intendedAt: 15_000, missed: 2 });
  });

  test('throughput paces at 1 / rate', () => {
    const tick = nextTick({ model: 'throughput', perSecond: 4 }, never, 1000, 1010, fresh());
    assert.deepEqual(tick, { startAt: 1250, intendedAt: 1250, missed: 0 });
  });
});

/**
 * A run with a hand-driven clock: the device asks the host to schedule it and to send requests;
 * the test decides how long each request takes, so pacing is checked without waiting in real time.
 */
class SimulatedHost implements DeviceHost {
  time = 0;
  stopping = false;
  readonly sharedHttpPool = false;
  readonly httpExchanges = new HttpExchangePool();
  readonly downlink = { received: 0, reactionsQueued: 0, reactionsDropped: 0, reactionsFailed: 0, reactionFailures: new Map<string, number>() };
  wakeAt: number | undefined;
  readonly sends: { at: number; path: string }[] = [];
  readonly attempts: { task: string; late: boolean; intendedMs: number }[] = [];
  finished = false;
  private respond: ((result: AttemptResult) => void) | undefined;

  constructor(readonly iterations: number | undefined) {}

  reactionStream(): Random {
    return () => 0.5;
  }

  now(): number {
    return this.time;
  }
  sinceStart(clockMs: number): number {
    return clockMs;
  }
  schedule(_device: VirtualDevice, dueAt: number): void {
    this.wakeAt = dueAt;
  }
  sendHttp(exchange: HttpExchange): void {
    this.sends.push({ at: this.time, path: exchange.request.path });
    this.respond = (result) => queueMicrotask(() => this.device?.httpEnded(result));
  }
  device: VirtualDevice | undefined;
  unschedule(): void {}
  attemptStarted(): void {}
  onAttempt(_device: VirtualDevice, stats: StatsEntry, _sent: unknown, _result: AttemptResult, _latencyMicros: number, intendedMicros: number, late: boolean): void {
    this.attempts.push({ task: stats.name, late, intendedMs: intendedMicros < 0 ? -1 : intendedMicros / 1000 });
  }
  onStarted(): void {}
  onFinished(): void {
    this.finished = true;
  }

  /** Runs the device until it finishes or `maxSends` requests were sent; `serviceMs(n)` is how long request n takes. */
  async drive(device: VirtualDevice, serviceMs: (n: number) => number, maxSends: number): Promise<void> {
    this.device = device;
    device.wake();
    while (!this.finished && this.sends.length <= maxSends) {
      const respond = this.respond;
      assert.ok(respond, 'the device should have a request in flight');
      this.respond = undefined;
      this.wakeAt = undefined;
      this.time += serviceMs(this.sends.length - 1);
      respond({ outcome: 'ok', error: undefined, bytesIn: 0, answered: true });
      // The device hears the response on a microtask, as from the transport; let it run.
      await new Promise<void>((resolve) => setImmediate(resolve));
      if (this.finished || this.sends.length >= maxSends) return;
      assert.ok(this.wakeAt !== undefined, 'the device should have scheduled its next task');
      this.time = Math.max(this.time, this.wakeAt);
      device.wake();
    }
  }
}

describe('a device under each wait model, on a simulated clock', () => {
  let dir: TempDir;
  before(async () => {
    dir = await TempDir.create();
  });
  after(async () => {
    await dir.remove();
  });

  async function modelWith(wait: string, boot = true): Promise<DeviceModel> {
    const file = await dir.write(
      `device-${Math.random().toString(36).slice(2)}.yaml`,
      `kind: device
name: sim
${boot ? 'boot:\n  - name: /greet\n    http:\n      method: GET\n      path: /greet\n' : ''}tasks:
  - name: /a
    weight: 3
    http:
      method: GET
      path: /a
  - name: /b
    weight: 1
    http:
      method: GET
      path: /b
wait:
${wait}`,
    );
    return loadDeviceModel(file);
  }

  function deviceFor(model: DeviceModel, host: SimulatedHost): { device: VirtualDevice; stats: RunStats } {
    const stats = new RunStats();
    const device = new VirtualDevice(0, 'dev-0', bindModel(model, stats.entryFor.bind(stats)), deviceRandom('wait-test', 0), host);
    return { device, stats };
  }

  test('pacing: boot first, then one task every interval from the end of boot', async () => {
    const host = new SimulatedHost(6);
    const { device } = deviceFor(await modelWith('  model: pacing\n  interval: 5s\n'), host);
    await host.drive(device, () => 100, 100);
    assert.equal(host.sends[0]?.path, '/greet');
    assert.deepEqual(
      host.sends.map((send) => send.at),
      [0, 100, 5100, 10_100, 15_100, 20_100, 25_100],
    );
    assert.ok(host.finished, 'the device stops after its iterations');
    assert.equal(host.attempts.filter((attempt) => attempt.late).length, 0);
    // Boot is not paced; paced tasks measure from their intended time, which here is their start.
    assert.equal(host.attempts[0]?.intendedMs, -1);
    for (const attempt of host.attempts.slice(1)) assert.equal(attempt.intendedMs, 100);
  });

  test('pacing: an overrunning target makes ticks late and counts the missed ones', async () => {
    const host = new SimulatedHost(4);
    const { device, stats } = deviceFor(await modelWith('  model: pacing\n  interval: 5s\n', false), host);
    // Task 1 takes 12 s: the 5 s tick is missed and the 10 s tick starts late, at 12 s;
    // task 2 takes 9 s, ending at 21 s: the 15 s tick is missed and the 20 s tick starts late.
    const service = [12_000, 9000, 100, 100];
    await host.drive(device, (n) => service[n] ?? 100, 100);
    assert.deepEqual(
      host.sends.map((send) => send.at),
      [0, 12_000, 21_000, 25_000],
    );
    assert.deepEqual(
      host.attempts.map((attempt) => attempt.late),
      [false, true, true, false],
    );
    // Latency from the intended time includes the wait the late start caused.
    assert.deepEqual(
      host.attempts.map((attempt) => attempt.intendedMs),
      [12_000, 11_000, 1100, 100],
    );
    const missed = stats.entries.reduce((sum, entry) => sum + entry.missed, 0);
    assert.equal(missed, 2);
  });

  test('constant: waits its time after each task ends', async () => {
    const host = new SimulatedHost(3);
    const { device } = deviceFor(await modelWith('  model: constant\n  time: 2s\n'), host);
    await host.drive(device, () => 500, 100);
    assert.deepEqual(
      host.sends.map((send) => send.at),
      [0, 500, 3000, 5500],
    );
    assert.ok(host.attempts.every((attempt) => attempt.intendedMs === -1 && !attempt.late));
  });

  test('between: waits are seeded, so the same device replays the same timeline', async () => {
    const model = await modelWith('  model: between\n  min: 1s\n  max: 2s\n');
    const timeline = async (): Promise<{ at: number; path: string }[]> => {
      const host = new SimulatedHost(20);
      await host.drive(deviceFor(model, host).device, () => 10, 100);
      return host.sends;
    };
    const first = await timeline();
    assert.deepEqual(await timeline(), first);
    for (let i = 2; i < first.length; i++) {
      const gap = (first[i] as { at: number }).at - (first[i - 1] as { at: number }).at - 10;
      assert.ok(gap >= 1000 && gap < 2000, `wait ${gap} ms is outside 1-2 s`);
    }
  });

  test('throughput: 2 per second is a 500 ms grid', async () => {
    const host = new SimulatedHost(4);
    const { device } = deviceFor(await modelWith('  model: throughput\n  perSecond: 2\n', false), host);
    await host.drive(device, () => 50, 100);
    assert.deepEqual(
      host.sends.map((send) => send.at),
      [0, 500, 1000, 1500],
    );
  });

  test('a stopping run finishes the device instead of starting another task', async () => {
    const host = new SimulatedHost(undefined);
    const { device } = deviceFor(await modelWith('  model: constant\n  time: 1s\n'), host);
    const driving = host.drive(
      device,
      (n) => {
        if (n === 2) host.stopping = true;
        return 10;
      },
      100,
    );
    await driving;
    assert.equal(host.sends.length, 3);
    assert.ok(host.finished);
    assert.equal(host.attempts.length, 3, 'the in-flight task is still recorded');
  });
});
