import { test } from 'node:test';
import assert from 'node:assert/strict';
import { firstSecondDevices } from '../../../src/engine/device/http-warm-start.ts';
import type { RunPlan } from '../../../src/profile/types.ts';

/** Only the load shape matters to how many connections open ahead. */
const shape = (fields: Pick<RunPlan, 'devices' | 'spawnRate' | 'spawnMode' | 'stages'>): RunPlan => fields as RunPlan;

test("connections opened ahead: the devices the first second starts, this process's share, never more than it owns", () => {
  assert.equal(firstSecondDevices(shape({ devices: 50_000, spawnRate: 5000, spawnMode: 'rate', stages: undefined }), 50_000), 5000);
  assert.equal(firstSecondDevices(shape({ devices: 200, spawnRate: 20, spawnMode: 'rate', stages: undefined }), 200), 20);
  assert.equal(firstSecondDevices(shape({ devices: 10, spawnRate: 100, spawnMode: 'rate', stages: undefined }), 10), 10);
  assert.equal(firstSecondDevices(shape({ devices: 300, spawnRate: 1, spawnMode: 'all-at-once', stages: undefined }), 300), 300);
  // A shard owning a quarter of the fleet starts a quarter of the first second's devices.
  assert.equal(firstSecondDevices(shape({ devices: 40_000, spawnRate: 4000, spawnMode: 'rate', stages: undefined }), 10_000), 1000);
  // Stages: the first that starts any, ramped over its duration (or at once when shorter than a second).
  const stages = [
    { durationMs: 5000, devices: 0 },
    { durationMs: 10_000, devices: 1000 },
  ];
  assert.equal(firstSecondDevices(shape({ devices: 1000, spawnRate: 1, spawnMode: 'rate', stages }), 1000), 100);
  assert.equal(firstSecondDevices(shape({ devices: 80, spawnRate: 1, spawnMode: 'rate', stages: [{ durationMs: 200, devices: 80 }] }), 80), 80);
  assert.equal(firstSecondDevices(shape({ devices: 0, spawnRate: 10, spawnMode: 'rate', stages: undefined }), 0), 0);
});
