import { test } from 'node:test';
import assert from 'node:assert/strict';
import { followPath, parseCapturePath } from '../../../src/profile/capture-path.ts';

test('capture paths: dotted names, indexes and quoted keys', () => {
  assert.deepEqual(parseCapturePath('$.access'), ['access']);
  assert.deepEqual(parseCapturePath('$.items[0].id'), ['items', 0, 'id']);
  assert.deepEqual(parseCapturePath('$["odd key"].x'), ['odd key', 'x']);
  assert.deepEqual(parseCapturePath('$'), []);
  for (const bad of ['access', '$.', '$..a', '$[a]', '$.a[-1]', '$.a b']) assert.equal(parseCapturePath(bad), undefined, bad);
});

test('following a path finds own values only', () => {
  const document = { access: 'a', items: [{ id: 7 }], nested: { deep: { value: false } } };
  assert.equal(followPath(document, ['access']), 'a');
  assert.equal(followPath(document, ['items', 0, 'id']), 7);
  assert.equal(followPath(document, ['nested', 'deep', 'value']), false);
  assert.equal(followPath(document, ['items', 3, 'id']), undefined);
  assert.equal(followPath(document, ['access', 'length']), undefined);
  assert.equal(followPath(document, ['__proto__']), undefined);
  assert.equal(followPath(document, ['items', 'length']), 1);
});
