import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { HttpFixture } from '../../broker-fixture/index.ts';
import { Engine } from '../../src/engine/engine.ts';
import type { StopReason } from '../../src/engine/events.ts';
import { loadRunPlan } from '../../src/profile/load.ts';
import { TempDir } from '../helpers/temp-files.ts';

let temp: TempDir;
before(async () => {
  temp = await TempDir.create();
});
after(async () => {
  await temp.remove();
});

const device = (wait: string): string => `kind: device
name: sensor
boot:
  - name: /greet
    http:
      path: /greet?id={{ device.id }}
tasks:
  - name: /data
    http:
      method: POST
      path: /data
      json:
        temperature: "{{ walk(10, 30, 0.5) }}"
        humidity: "{{ float(0, 100) }}"
wait:
${wait}`;

async function planFor(name: string, wait: string, profileExtra: string): Promise<Awaited<ReturnType<typeof loadRunPlan>>> {
  await temp.write(`${name}.device.yaml`, device(wait));
  const profile = await temp.write(`${name}.yaml`, `name: ${name}\nseed: 3\nfleet:\n  - device: ${name}.device.yaml\n    count: 5\nspawnRate: 1000\n${profileExtra}`);
  return loadRunPlan(profile);
}

async function runAgainst(fixture: HttpFixture, plan: Awaited<ReturnType<typeof loadRunPlan>>): Promise<{ engine: Engine; reason: StopReason }> {
  const url = await fixture.listen(0);
  const engine = new Engine({ plan, target: url });
  let reason: StopReason = 'requested';
  engine.on('done', (r) => (reason = r));
  await engine.run();
  await fixture.close();
  return { engine, reason };
}

test('--iterations: boot once, then exactly N tasks per device, then the run ends by itself', async () => {
  const plan = await planFor('iterations', '  model: between\n  min: 1ms\n  max: 5ms\n', 'iterations: 4\n');
  const fixture = new HttpFixture();
  const { engine, reason } = await runAgainst(fixture, plan);
  assert.equal(reason, 'iterations');
  assert.equal(engine.stats.entryFor('GET', '/greet').requests, 5);
  assert.equal(engine.stats.entryFor('POST', '/data').requests, 20);
  assert.equal(fixture.counts['POST /data']?.ok, 20);
  assert.equal(engine.finished, 5);
});

test('stop drains in-flight requests: every request the server saw is counted', async () => {
  const plan = await planFor('drain', '  model: constant\n  time: 0s\n', 'duration: 600ms\n');
  const fixture = new HttpFixture({ latencyMs: 400 });
  const { engine, reason } = await runAgainst(fixture, plan);
  assert.equal(reason, 'duration');
  const data = engine.stats.entryFor('POST', '/data');
  // Greets end at ~400 ms, the first data requests are in flight at 600 ms and must finish.
  assert.equal(data.requests, 5);
  assert.equal(data.failures, 0);
  assert.equal(fixture.counts['POST /data']?.requests, 5);
});

test('pacing against a slow target: ticks start late and latency from the intended start exposes it', async () => {
  // A task every 100 ms, but each takes 250 ms: a generator that measured only service time would hide the backlog.
  const plan = await planFor('late', '  model: pacing\n  interval: 100ms\n', 'duration: 2s\n');
  const fixture = new HttpFixture({ latencyMs: 250 });
  const { engine } = await runAgainst(fixture, plan);
  const data = engine.stats.entryFor('POST', '/data');
  assert.ok(data.requests >= 20, `only ${data.requests} requests`);
  assert.ok(data.late > 0, 'no tick started late');
  assert.ok(data.missed > 0, 'no tick was missed');
  // Every tick of the grid is accounted for, run (on time or late) or missed: the grid starts after
  // the 250 ms greet, so each device has ~17.5 ticks of 100 ms before the stop at 2 s.
  const ticks = data.requests + data.missed;
  assert.ok(Math.abs(ticks - 87) <= 10, `${data.requests} run + ${data.missed} missed, expected ~87 ticks`);
  const service = data.latency.mean / 1000;
  const intended = data.intendedLatency.mean / 1000;
  assert.ok(service >= 250 && service < 400, `service mean ${service} ms`);
  assert.ok(intended > service + 10, `intended mean ${intended} ms vs service ${service} ms`);
});

test('attempts still in flight when the drain timeout ends are abandoned, not failures of the target', async () => {
  const plan = await planFor('abandon', '  model: constant\n  time: 0s\n', 'duration: 300ms\ndrainTimeout: 200ms\n');
  const fixture = new HttpFixture({ latencyMs: 5000 });
  const url = await fixture.listen(0);
  const engine = new Engine({ plan, target: url });
  const outcomes: string[] = [];
  engine.on('attempt', (record) => outcomes.push(record.outcome));
  const started = Date.now();
  const times = await engine.run();
  await fixture.close();
  assert.ok(Date.now() - started < 3000, 'the run waited for the slow target instead of abandoning');
  assert.equal(engine.abandoned, 5);
  const greet = engine.stats.entryFor('GET', '/greet');
  assert.equal(greet.requests, 0);
  assert.equal(greet.failures, 0);
  assert.deepEqual(outcomes, ['abandoned', 'abandoned', 'abandoned', 'abandoned', 'abandoned']);
  assert.ok(times.activeMs >= 290 && times.activeMs < times.durationMs, `active ${times.activeMs} ms of ${times.durationMs} ms`);
});

test('--iterations ends a device right after its last task, not one wait later', async () => {
  const plan = await planFor('last-wait', '  model: pacing\n  interval: 20s\n', 'iterations: 1\n');
  const fixture = new HttpFixture();
  const started = Date.now();
  const { engine, reason } = await runAgainst(fixture, plan);
  assert.equal(reason, 'iterations');
  assert.equal(engine.stats.entryFor('POST', '/data').requests, 5);
  assert.ok(Date.now() - started < 5000, `the run took ${Date.now() - started} ms with a 20 s pacing interval`);
});
