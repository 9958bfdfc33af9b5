import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { linkOf } from '../../../src/profile/network.ts';
import { NETWORK_PRESETS } from '../../../src/profile/network-presets.ts';
import { planFleetEvents, plannedCounts } from '../../../src/engine/schedule/fleet-events.ts';
import { MINIMAL_DEVICE, loadErrorFor, loadPlanFor, TempDir } from '../../helpers/temp-files.ts';

let temp: TempDir;
before(async () => {
  temp = await TempDir.create();
});
after(async () => {
  await temp.remove();
});

const withModel = (section: string): string => `${MINIMAL_DEVICE}${section}`;

describe('network', () => {
  test('a preset, a link of its own over a preset, and rates in bits per second', async () => {
    const preset = await loadPlanFor(temp, withModel('network: lte-m\n'));
    assert.deepEqual(preset.fleet[0]?.model.network, [{ share: 1, link: NETWORK_PRESETS['lte-m'] }]);
    const own = await loadPlanFor(temp, withModel('network:\n  preset: nb-iot\n  uplink: 10kbit\n  downlink: 1.5mbit/s\n  drops: { every: 2m }\n'));
    const link = own.fleet[0]?.model.network?.[0]?.link;
    assert.equal(link?.name, 'nb-iot*');
    assert.equal(link.latencyMs, NETWORK_PRESETS['nb-iot']?.latencyMs);
    assert.equal(link.uplinkBps, 10_000);
    assert.equal(link.downlinkBps, 1_500_000);
    assert.deepEqual(link.drops, { kind: 'rate', meanIntervalMs: 120_000 });
  });

  test("a fleet entry's mix replaces the model's, and splits the entry by share exactly", async () => {
    const plan = await loadPlanFor(temp, withModel('network: 3g\n'), 'iterations: 1\n');
    assert.equal(plan.fleet[0]?.network, undefined);
    await temp.write('mix.device.yaml', withModel('network: 3g\n'));
    const { loadRunPlan } = await import('../../../src/profile/load.ts');
    const mixed = await loadRunPlan(await temp.write('mix.yaml', 'kind: profile\nfleet:\n  - device: mix.device.yaml\n    count: 10\n    network: "70% lte-m, 30% nb-iot"\niterations: 1\n'));
    const mix = mixed.fleet[0]?.network;
    assert.ok(mix);
    const names = Array.from({ length: 10 }, (_, i) => linkOf(mix, i, 10).name);
    assert.deepEqual(names, ['lte-m', 'lte-m', 'lte-m', 'lte-m', 'lte-m', 'lte-m', 'lte-m', 'nb-iot', 'nb-iot', 'nb-iot']);
  });

  test('mistakes are refused at their field', async () => {
    const unknown = await loadErrorFor(temp, withModel('network: lte-n\n'));
    assert.match(unknown.message, /:\d+:\d+: network: unknown network preset 'lte-n' \(presets: nb-iot, lte-m/);
    const shares = await loadErrorFor(temp, withModel('network: "70% lte-m, 20% 3g"\n'));
    assert.match(shares.message, /network: the shares add up to 90%, not 100%/);
    const jitter = await loadErrorFor(temp, withModel('network:\n  latency: 50ms\n  jitter: 80ms\n'));
    assert.match(jitter.message, /network\.jitter: jitter \(80 ms\) must not exceed latency \(50 ms\)/);
    const rate = await loadErrorFor(temp, withModel('network:\n  uplink: 10 kbytes\n'));
    assert.match(rate.message, /network\.uplink: "10 kbytes" does not match the expected form/);
    const drops = await loadErrorFor(temp, withModel('network:\n  drops: { every: 1m, at: [30s] }\n'));
    assert.match(drops.message, /network\.drops: give one of 'every' \(a rate\) or 'at' \(a schedule\)/);
  });
});

describe('lifecycle and events', () => {
  test('sleep, reboots and fleet events are read with their defaults', async () => {
    const plan = await loadPlanFor(
      temp,
      withModel('lifecycle:\n  sleep: { awake: 30s, asleep: 2m }\n  reboot: { every: 1h }\n'),
      'duration: 10m\nevents:\n  - offline: { at: 2m, share: 5%, for: 30s }\n  - reboot: { at: 1m, share: 0.3, over: 10s }\n',
    );
    assert.deepEqual(plan.fleet[0]?.model.lifecycle, { sleep: { awakeMs: 30_000, asleepMs: 120_000, jitter: 0.1, startAwake: false }, reboot: { everyMs: 3_600_000, bootMs: 5000 } });
    assert.deepEqual(plan.fleetEvents, [
      { kind: 'offline', atMs: 120_000, share: 0.05, overMs: 0, forMs: 30_000 },
      { kind: 'reboot', atMs: 60_000, share: 0.3, overMs: 10_000, forMs: 5000 },
    ]);
  });

  test('mistakes are refused at their field', async () => {
    const awake = await loadErrorFor(temp, withModel('lifecycle:\n  sleep: { awake: 0s, asleep: 1m }\n'));
    assert.match(awake.message, /lifecycle\.sleep\.awake: must be greater than 0/);
    const share = await loadErrorFor(temp, MINIMAL_DEVICE, 'duration: 1m\nevents:\n  - offline: { at: 2m, share: 150%, for: 30s }\n');
    assert.match(share.message, /events\[0\]\.offline\.share: "150%" is not a share from 0% to 100%/);
    const both = await loadErrorFor(temp, MINIMAL_DEVICE, 'duration: 1m\nevents:\n  - offline: { at: 2m, share: 5%, for: 30s }\n    reboot: { at: 1m, share: 5% }\n');
    assert.match(both.message, /events\[0\]: an event is one of 'reboot' or 'offline'/);
    const missing = await loadErrorFor(temp, MINIMAL_DEVICE, 'duration: 1m\nevents:\n  - offline: { at: 2m, share: 5% }\n');
    assert.match(missing.message, /events\[0\]\.offline: missing required field 'for'/);
  });

  test('a fleet event takes exactly its share, the same devices whatever the fleet runs in, spread over its time', () => {
    const events = [{ kind: 'reboot' as const, atMs: 1000, share: 0.3, overMs: 900, forMs: 100 }];
    const plan = planFleetEvents(events, '7', 100);
    assert.equal(plan.size, 30);
    assert.deepEqual(plannedCounts(events, 100), { reboots: 30, offline: 0 });
    const times = [...plan.values()].map((list) => list[0]?.atMs as number).sort((a, b) => a - b);
    assert.equal(times[0], 1000);
    assert.equal(times[29], 1000 + (900 * 29) / 30);
    assert.deepEqual([...planFleetEvents(events, '7', 100).keys()].sort(), [...plan.keys()].sort(), 'seeded');
    assert.notDeepEqual([...planFleetEvents(events, '8', 100).keys()].sort(), [...plan.keys()].sort(), 'another seed, other devices');
  });

  test("an event for one model takes its share of that model's devices only", async () => {
    const byModel = planFleetEvents([{ kind: 'offline', atMs: 0, share: 0.5, overMs: 0, forMs: 10, model: 'odd' }], '7', 100, (index) => (index % 2 === 1 ? 'odd' : 'even'));
    assert.equal(byModel.size, 25);
    assert.ok([...byModel.keys()].every((index) => index % 2 === 1));
    const unknown = await loadErrorFor(temp, MINIMAL_DEVICE, 'duration: 1m\nevents:\n  - offline: { at: 2m, share: 5%, for: 30s, model: vehicle }\n');
    assert.match(unknown.message, /events\[0\]\.offline\.model: no model named 'vehicle' in the fleet \(models: probe\)/);
  });
});
