import { test } from 'node:test';
import assert from 'node:assert/strict';
import { layoutFleet } from '../../../src/engine/fleet/fleet-layout.ts';
import { OfferedLoad } from '../../../src/engine/schedule/offered-load.ts';
import { RunStats } from '../../../src/metrics/stats.ts';
import type { StatsEntry } from '../../../src/metrics/stats.ts';
import type { FleetEntry } from '../../../src/profile/types.ts';
import { loadRunPlan } from '../../../src/profile/load.ts';
import { TempDir } from '../../helpers/temp-files.ts';

async function fleetOf(files: Record<string, string>, profile: string): Promise<readonly FleetEntry[]> {
  const temp = await TempDir.create();
  try {
    for (const [name, text] of Object.entries(files)) await temp.write(name, text);
    return (await loadRunPlan(await temp.write('profile.yaml', `${profile}duration: 1m\n`))).fleet;
  } finally {
    await temp.remove();
  }
}

const PACED = `kind: device
name: paced
boot:
  - name: /hello
    http: { method: GET, path: /hello }
tasks:
  - name: /data
    weight: 3
    http: { method: POST, path: /data }
  - name: /burst
    weight: 1
    http: { method: POST, path: /burst }
    repeat: 2
wait: { model: pacing, interval: 1s }
`;

const LISTENER = `kind: device
name: listener
on:
  - topic: "lamps/+/state"
    qos: 1
`;

function offeredIn(load: OfferedLoad, stats: RunStats, fromMs: number, toMs: number): Record<string, number> {
  const counts = load.offeredBetween(fromMs, toMs, new Map<StatsEntry, number>());
  return Object.fromEntries(stats.entries.map((entry) => [`${entry.type} ${entry.name}`, Math.round((counts.get(entry) ?? 0) * 1000) / 1000]));
}

test('an open model offers each task by weight and repeat every period; boot once per device start, the first included', async () => {
  const fleet = await fleetOf({ 'paced.yaml': PACED }, 'kind: profile\nfleet:\n  - device: paced.yaml\n    count: 10\n');
  const stats = new RunStats();
  const load = new OfferedLoad(fleet, undefined, stats.entryFor.bind(stats));
  load.rampTo(0, 0, 10, 0);
  // 10 devices, one task a second each: 3 in 4 are /data, 1 in 4 /burst with 2 attempts.
  assert.deepEqual(offeredIn(load, stats, 0, 10_000), { 'GET /hello': 10, 'POST /data': 75, 'POST /burst': 50 });
  assert.deepEqual(offeredIn(load, stats, 10_000, 11_000), { 'GET /hello': 0, 'POST /data': 7.5, 'POST /burst': 5 });
  assert.equal(load.longestCycleMs, 1000);
  assert.ok([...load.offeredEntries].every((entry) => entry.offers));
});

test('a ramp offers load as its steps fall due: device k from k/rate seconds on', async () => {
  const fleet = await fleetOf({ 'paced.yaml': PACED }, 'kind: profile\nfleet:\n  - device: paced.yaml\n    count: 10\n');
  const stats = new RunStats();
  const load = new OfferedLoad(fleet, undefined, stats.entryFor.bind(stats));
  // 10 devices over 10 s: device k starts at k s, so by 10 s they have run 10+9+…+1 = 55 device-seconds.
  load.rampTo(0, 0, 10, 10_000);
  const first = offeredIn(load, stats, 0, 10_000);
  assert.equal(first['GET /hello'], 10);
  assert.equal((first['POST /data'] ?? 0) + (first['POST /burst'] ?? 0), 55 * (0.75 + 0.5));
  assert.equal(offeredIn(load, stats, 0, 500)['GET /hello'], 1, 'the first device starts at once');
});

test('with --iterations, a device offers only its iterations', async () => {
  const fleet = await fleetOf({ 'paced.yaml': PACED }, 'kind: profile\nfleet:\n  - device: paced.yaml\n    count: 4\n');
  const stats = new RunStats();
  const load = new OfferedLoad(fleet, 5, stats.entryFor.bind(stats));
  load.rampTo(0, 0, 4, 0);
  const all = offeredIn(load, stats, 0, 60_000);
  // 4 devices × 5 tasks: 15 /data and 5 /burst tasks of 2 attempts.
  assert.equal(all['POST /data'], 15);
  assert.equal(all['POST /burst'], 10);
  assert.deepEqual(offeredIn(load, stats, 30_000, 60_000), { 'GET /hello': 0, 'POST /data': 0, 'POST /burst': 0 });
});

test('a mixed fleet counts each model in the population as laid out: listeners first offer nothing', async () => {
  const fleet = await fleetOf({ 'paced.yaml': PACED, 'listener.yaml': LISTENER }, 'kind: profile\nfleet:\n  - device: paced.yaml\n    count: 2\n  - device: listener.yaml\n    count: 8\n');
  const layout = layoutFleet(fleet);
  assert.equal(layout[0], 1, 'the listeners take the first indices');
  const stats = new RunStats();
  const load = new OfferedLoad(fleet, undefined, stats.entryFor.bind(stats), { count: 10, entryOf: (local) => layout[local] ?? 0 });
  // One device a second: the 8 listeners come first, the two paced devices start at 8 s and 9 s.
  load.rampTo(0, 0, 10, 10_000);
  assert.deepEqual(offeredIn(load, stats, 0, 8_000), { 'GET /hello': 0, 'POST /data': 0, 'POST /burst': 0 });
  const later = offeredIn(load, stats, 8_000, 20_000);
  assert.equal(later['GET /hello'], 2);
  // 12 + 11 device-seconds at 1.25 attempts a second.
  assert.equal((later['POST /data'] ?? 0) + (later['POST /burst'] ?? 0), 23 * 1.25);
});

test('a shape lowered under --iterations never books negative load', async () => {
  const fleet = await fleetOf({ 'paced.yaml': PACED }, 'kind: profile\nfleet:\n  - device: paced.yaml\n    count: 100\n');
  const stats = new RunStats();
  const load = new OfferedLoad(fleet, 60, stats.entryFor.bind(stats));
  load.rampTo(0, 0, 100, 0);
  load.rampTo(30_000, 100, 50, 0);
  for (let second = 0; second < 90; second++) {
    const counts = offeredIn(load, stats, second * 1000, (second + 1) * 1000);
    for (const [row, count] of Object.entries(counts)) assert.ok(count >= 0, `${row} at ${second} s: ${count}`);
  }
});

test('bookUntil books the offer on the rows once: up to a time, never the same span twice', async () => {
  const fleet = await fleetOf({ 'paced.yaml': PACED }, 'kind: profile\nfleet:\n  - device: paced.yaml\n    count: 10\n');
  const stats = new RunStats();
  const load = new OfferedLoad(fleet, undefined, stats.entryFor.bind(stats));
  load.rampTo(0, 0, 10, 0);
  load.bookUntil(4000);
  load.bookUntil(10_000);
  load.bookUntil(6000);
  load.bookUntil(10_000);
  const booked = Object.fromEntries(stats.entries.map((entry) => [`${entry.type} ${entry.name}`, Math.round(entry.offered * 1000) / 1000]));
  // The same as offeredBetween(0, 10 s) in the first test: 10 boots, 75 /data, 50 /burst attempts.
  assert.deepEqual(booked, { 'GET /hello': 10, 'POST /data': 75, 'POST /burst': 50 });
});
