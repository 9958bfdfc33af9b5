import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { loadRunPlan } from '../../../src/profile/load.ts';
import { loadErrorFor, loadPlanFor, MINIMAL_DEVICE, TempDir } from '../../helpers/temp-files.ts';

let temp: TempDir;
before(async () => {
  temp = await TempDir.create();
});
after(async () => {
  await temp.remove();
});

// profileFor puts the extra keys from line 7 on (after 6 lines of kind, name, seed, fleet).
const STAGES = 'stages:\n  - duration: 4s\n    devices: 40\n  - { duration: 2s, devices: 40 }\n  - duration: 2s\n    devices: 10\n';

describe('stages in a profile', () => {
  test('set the fleet size to the highest target and the run length to their sum', async () => {
    const plan = await loadPlanFor(temp, MINIMAL_DEVICE, STAGES);
    assert.deepEqual(plan.stages, [
      { durationMs: 4000, devices: 40 },
      { durationMs: 2000, devices: 40 },
      { durationMs: 2000, devices: 10 },
    ]);
    assert.equal(plan.devices, 40);
    assert.equal(plan.fleet[0]?.count, 40);
    assert.equal(plan.durationMs, 8000);
    assert.equal(plan.iterations, undefined);
  });

  test('the one-stage flags replace them; --stage replaces them too', async () => {
    await temp.write('staged.device.yaml', MINIMAL_DEVICE);
    const profile = await temp.write('staged.yaml', `fleet:\n  - device: staged.device.yaml\n    count: 3\n${STAGES}`);
    const shorthand = await loadRunPlan(profile, { devices: 5, durationMs: 3000 });
    assert.equal(shorthand.stages, undefined);
    assert.equal(shorthand.devices, 5);
    assert.equal(shorthand.durationMs, 3000);
    const flagged = await loadRunPlan(profile, { stages: [{ durationMs: 1000, devices: 7 }] });
    assert.deepEqual(flagged.stages, [{ durationMs: 1000, devices: 7 }]);
    assert.equal(flagged.devices, 7);
    assert.equal(flagged.durationMs, 1000);
  });

  test('a negative count names file:line:column and the field', async () => {
    const error = await loadErrorFor(temp, MINIMAL_DEVICE, STAGES.replace('devices: 10', 'devices: -1'));
    assert.equal(error.field, 'stages[2].devices');
    assert.match(error.message, /\.yaml:12:14: stages\[2\]\.devices: must be at least 0, got -1$/);
  });

  test('a zero duration names file:line:column and the field', async () => {
    const error = await loadErrorFor(temp, MINIMAL_DEVICE, STAGES.replace('duration: 4s', 'duration: 0s'));
    assert.equal(error.field, 'stages[0].duration');
    assert.match(error.message, /\.yaml:8:15: stages\[0\]\.duration: must be greater than 0$/);
  });

  test('a missing field names the stage and the field', async () => {
    const error = await loadErrorFor(temp, MINIMAL_DEVICE, STAGES.replace('  - duration: 2s\n    devices: 10\n', '  - duration: 2s\n'));
    assert.equal(error.field, 'stages[2]');
    assert.match(error.message, /\.yaml:11:5: stages\[2\]: missing required field 'devices'$/);
  });

  test('stages next to a duration are refused at the duration', async () => {
    const error = await loadErrorFor(temp, MINIMAL_DEVICE, `duration: 30s\n${STAGES}`);
    assert.equal(error.field, 'duration');
    assert.match(error.message, /\.yaml:7:1: duration: 'stages' set the load shape and the run's length; remove 'duration'/);
  });

  test('stages that never run a device are refused', async () => {
    const error = await loadErrorFor(temp, MINIMAL_DEVICE, 'stages:\n  - { duration: 1s, devices: 0 }\n');
    assert.equal(error.field, 'stages');
    assert.match(error.message, /no stage runs a device/);
  });
});

describe('spawn modes', () => {
  test('spawn: { mode: all-at-once }', async () => {
    const plan = await loadPlanFor(temp, MINIMAL_DEVICE, 'duration: 5s\nspawn:\n  mode: all-at-once\n');
    assert.equal(plan.spawnMode, 'all-at-once');
  });

  test('spawn.rate, and spawnRate as its shorthand', async () => {
    const plan = await loadPlanFor(temp, MINIMAL_DEVICE, 'duration: 5s\nspawn:\n  rate: 7\n');
    assert.equal(plan.spawnMode, 'rate');
    assert.equal(plan.spawnRate, 7);
    const shorthand = await loadPlanFor(temp, MINIMAL_DEVICE, 'duration: 5s\nspawnRate: 4\n');
    assert.equal(shorthand.spawnMode, 'rate');
    assert.equal(shorthand.spawnRate, 4);
  });

  test('--spawn-rate asks for a ramp whatever the profile says', async () => {
    await temp.write('storm.device.yaml', MINIMAL_DEVICE);
    const profile = await temp.write('storm.yaml', 'fleet:\n  - device: storm.device.yaml\n    count: 3\nduration: 5s\nspawn: { mode: all-at-once }\n');
    const plan = await loadRunPlan(profile, { spawnRate: 2 });
    assert.equal(plan.spawnMode, 'rate');
    assert.equal(plan.spawnRate, 2);
  });

  test('both spawnRate and spawn, or a rate with all-at-once, are refused', async () => {
    const both = await loadErrorFor(temp, MINIMAL_DEVICE, 'duration: 5s\nspawnRate: 4\nspawn: { rate: 5 }\n');
    assert.equal(both.field, 'spawnRate');
    assert.match(both.message, /set the rate in one place/);
    const storm = await loadErrorFor(temp, MINIMAL_DEVICE, 'duration: 5s\nspawn: { mode: all-at-once, rate: 5 }\n');
    assert.equal(storm.field, 'spawn.rate');
    const mode = await loadErrorFor(temp, MINIMAL_DEVICE, 'duration: 5s\nspawn: { mode: storm }\n');
    assert.match(mode.message, /spawn\.mode: must be one of "rate", "all-at-once", got "storm"/);
  });
});
