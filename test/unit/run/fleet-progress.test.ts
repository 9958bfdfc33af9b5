import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { concatenateLogs } from '../../../src/distributed/concatenate-logs.ts';
import { fleetProgressLine } from '../../../src/run/fleet-progress.ts';

const part = (devicesOnline: number, rps: number, atS: number): { atS: number; intervalS: number; devicesOnline: number; devicesTarget: number; rps: number; failuresPerS: number } => ({
  atS,
  intervalS: 2,
  devicesOnline,
  devicesTarget: 10,
  rps,
  failuresPerS: 0,
});

test('the fleet line sums devices and rates over the workers that reported, and counts them', () => {
  const line = fleetProgressLine([part(3, 10, 4), part(4, 5, 6)], { p50: 1, p95: 2, p99: 3 }, 3, 10_000);
  assert.ok(line !== undefined);
  assert.match(line, /7\/20/);
  assert.match(line, /\(2\/3 workers\)$/);
  assert.equal(fleetProgressLine([], { p50: null, p95: null, p99: null }, 3, undefined), undefined);
});

test('the request logs are concatenated in order, a missing one skipped', async () => {
  const dir = await mkdtemp(path.join(tmpdir(), 'fleetsim-concat-'));
  try {
    await writeFile(path.join(dir, '0.ndjson'), 'a\n');
    await writeFile(path.join(dir, '2.ndjson'), 'c\n');
    await concatenateLogs([path.join(dir, '0.ndjson'), path.join(dir, '1.ndjson'), '', path.join(dir, '2.ndjson')], path.join(dir, 'all.ndjson'));
    assert.equal(await readFile(path.join(dir, 'all.ndjson'), 'utf8'), 'a\nc\n');
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
});
