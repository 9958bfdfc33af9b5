import { test } from 'node:test';
import assert from 'node:assert/strict';
import { compileIdentity, feistelKeys, permute48 } from '../../../src/identity/device-id.ts';

test('hex48 ids are unique for 100,000 devices and 12 hex digits long', () => {
  const idOf = compileIdentity({ scheme: 'hex48', prefix: '' }, '42');
  const seen = new Set<string>();
  for (let i = 0; i < 100_000; i++) {
    const id = idOf(i);
    assert.match(id, /^[0-9a-f]{12}$/);
    seen.add(id);
  }
  assert.equal(seen.size, 100_000);
});

test('permute48 is a bijection on a sampled range and depends on the seed', () => {
  const keys = feistelKeys('a');
  const other = feistelKeys('b');
  const values = new Set<number>();
  let differ = 0;
  for (let i = 0; i < 5000; i++) {
    const v = permute48(2 ** 47 + i, keys);
    assert.ok(v >= 0 && v < 2 ** 48);
    values.add(v);
    if (v !== permute48(2 ** 47 + i, other)) differ++;
  }
  assert.equal(values.size, 5000);
  assert.ok(differ > 4990);
});

test('sequential-hex and pattern schemes derive the id from the index', () => {
  const lamp = compileIdentity({ scheme: 'sequential-hex', base: 0x1e0000000000n, width: 12, prefix: '' }, 's');
  assert.equal(lamp(0), '1e0000000000');
  assert.equal(lamp(255), '1e00000000ff');
  const node = compileIdentity({ scheme: 'pattern', pattern: 'node-{index:6}' }, 's');
  assert.equal(node(42), 'node-000042');
});
