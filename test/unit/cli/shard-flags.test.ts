import { test } from 'node:test';
import assert from 'node:assert/strict';
import { execute } from '../../../src/cli/main.ts';
import { parseShard, parseStartAt } from '../../../src/run/overrides.ts';
import { ownedByEntry } from '../../../src/engine/fleet/fleet-layout.ts';
import { globalIndex, localIndex, ownedBelow } from '../../../src/engine/fleet/shard.ts';
import { loadRunPlan } from '../../../src/profile/load.ts';
import type { FleetEntry } from '../../../src/profile/types.ts';

async function cli(args: readonly string[]): Promise<{ code: number; stderr: string }> {
  let stderr = '';
  const code = await execute(args, { stdout: () => undefined, stderr: (text) => (stderr += `${text}\n`) });
  return { code, stderr };
}

test('a malformed --shard exits 2 with one line naming the flag', async () => {
  for (const shard of ['3/2', '0/0', 'a/b', '-1/2', '1', '1/2/3']) {
    const { code, stderr } = await cli(['run', 'profiles/iot-node.yaml', '--shard', shard]);
    assert.equal(code, 2, `${shard}: ${stderr}`);
    assert.equal(stderr.trim().split('\n').length, 1, stderr);
    assert.ok(stderr.startsWith('fleetsim: --shard: ') && stderr.includes(`'${shard}'`), stderr);
  }
});

test('a malformed or far --start-at exits 2 naming the flag', async () => {
  const soon = new Date(Date.now() + 2 * 3600_000).toISOString();
  for (const [value, pattern] of [
    ['tomorrow', /--start-at: expected an ISO 8601 time/],
    ['2026-05-01T12:00:00', /--start-at: expected an ISO 8601 time with its zone/],
    [soon, /--start-at: .* is more than an hour away/],
  ] as const) {
    const { code, stderr } = await cli(['run', 'profiles/iot-node.yaml', '--start-at', value]);
    assert.equal(code, 2, stderr);
    assert.match(stderr, pattern);
  }
});

test('parseShard and parseStartAt read what they are given', () => {
  assert.deepEqual(parseShard('2/5'), { index: 2, count: 5 });
  assert.deepEqual(parseShard(['0/1', '1/2']), { index: 1, count: 2 });
  assert.equal(parseShard(undefined), undefined);
  const now = Date.parse('2026-05-01T12:00:00Z');
  assert.equal(parseStartAt('2026-05-01T12:00:30Z', now), now + 30_000);
  assert.equal(parseStartAt('2026-05-01T14:00:30+02:00', now), now + 30_000);
  // A time in the past parses: the run starts at once and warns.
  assert.equal(parseStartAt('2026-05-01T11:00:00.5Z', now), now - 3600_000 + 500);
});

test('shards partition the indices below any count, in stripes', () => {
  for (const total of [0, 1, 2, 7, 40, 1001]) {
    for (const count of [1, 2, 3, 7, 50]) {
      const seen: number[] = [];
      for (let index = 0; index < count; index++) {
        const shard = { index, count };
        const owned = ownedBelow(total, shard);
        for (let local = 0; local < owned; local++) {
          const global = globalIndex(local, shard);
          assert.equal(global % count, index);
          assert.equal(localIndex(global, shard), local);
          seen.push(global);
        }
      }
      assert.deepEqual(
        seen.sort((a, b) => a - b),
        Array.from({ length: total }, (_, i) => i),
        `${total} over ${count}`,
      );
    }
  }
});

test('the shards of a mixed fleet own every device of each type exactly once', async () => {
  const plan = await loadRunPlan('profiles/iot-node.yaml');
  const model = plan.fleet[0]?.model as FleetEntry['model'];
  // The layout reads only the counts: three entries of one model stand for three types.
  const fleet: FleetEntry[] = [200, 70, 31].map((count) => ({ model, count }));
  for (const count of [2, 3, 7]) {
    const parts = Array.from({ length: count }, (_, index) => ownedByEntry(fleet, { index, count }));
    assert.deepEqual(
      fleet.map((_, e) => parts.reduce((sum, part) => sum + (part[e] ?? 0), 0)),
      [200, 70, 31],
    );
  }
});
