import { test } from 'node:test';
import assert from 'node:assert/strict';
import { MAX_DURATION_MS } from '../../../src/profile/duration.ts';
import { mergeForm, settingsOf } from '../../../src/ui/start-settings.ts';
import type { StartForm } from '../../../src/ui/start-settings.ts';

const DEFAULTS: StartForm = { devices: '20', spawnRate: '10', maxDevices: '20', duration: '1m', stages: '30s:5, 30s:20', target: '', broker: '' };

test("a start body over the defaults: devices alone means one ramp, not the profile's stages", () => {
  const form = mergeForm(DEFAULTS, { devices: 5 });
  assert.equal(form.stages, '');
  assert.equal(form.duration, '1m');
  const { settings, overrides } = settingsOf(form);
  assert.equal(settings.devices, 5);
  assert.equal(settings.maxDevices, 20, "the ceiling stays the profile's fleet");
  assert.equal(overrides.devices, 20, 'the plan is sized to the ceiling');
  assert.equal(overrides.durationMs, 60_000);
});

test('stages from the form set the devices and the length; an empty duration runs until stopped', () => {
  const staged = settingsOf(mergeForm(DEFAULTS, {}));
  assert.deepEqual(staged.settings.stages, [
    { durationMs: 30_000, devices: 5 },
    { durationMs: 30_000, devices: 20 },
  ]);
  assert.equal(staged.settings.durationMs, 60_000);
  const open = settingsOf(mergeForm(DEFAULTS, { devices: 3, duration: '' }));
  assert.equal(open.settings.durationMs, undefined);
  assert.equal(open.overrides.durationMs, MAX_DURATION_MS);
});

test('bad fields name the field as the form does', () => {
  assert.throws(() => settingsOf(mergeForm(DEFAULTS, { devices: 'lots' })), /^UsageError: devices: expected a whole number/);
  assert.throws(() => settingsOf(mergeForm(DEFAULTS, { spawnRate: -1 })), /spawnRate: expected devices per second above 0/);
  assert.throws(() => settingsOf(mergeForm(DEFAULTS, { stages: '30s' })), /stages: '30s' is not DURATION:DEVICES/);
  assert.throws(() => settingsOf(mergeForm(DEFAULTS, { devices: 30 })), /maxDevices: 20 is below the 30 devices/);
  assert.throws(() => settingsOf(mergeForm(DEFAULTS, { target: 'ftp://x' })), /^UsageError: target:/);
  assert.throws(() => mergeForm(DEFAULTS, { devcies: 3 }), /unknown field devcies/);
  assert.throws(() => mergeForm(DEFAULTS, [1]), /expected a JSON object/);
  assert.throws(() => mergeForm(DEFAULTS, { devices: { n: 1 } }), /devices: expected text or a number/);
});
