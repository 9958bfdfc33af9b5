import { test } from 'node:test';
import assert from 'node:assert/strict';
import { HttpExchangePool } from '../../../src/transport/http/http-exchange-pool.ts';
import type { AttemptResult } from '../../../src/transport/types.ts';

const recorder = (into: string[], name: string): { httpEnded(result: AttemptResult): void } => ({ httpEnded: (result) => into.push(`${name}:${result.outcome}`) });

test('the pool lends a released exchange to the next device, which alone hears its answer', async () => {
  const pool = new HttpExchangePool();
  const heard: string[] = [];
  const first = pool.acquire(3, recorder(heard, 'a'));
  const second = pool.acquire(7, recorder(heard, 'b'));
  assert.notEqual(first, second, 'two requests in flight need two exchanges');
  assert.deepEqual([first.deviceIndex, second.deviceIndex], [3, 7]);
  first.prepare('GET', '/x', {}, undefined, 1000, undefined, false);
  first.onResponseError(undefined, new Error('refused'));
  await Promise.resolve();
  assert.deepEqual(heard, ['a:failure']);
  pool.release(first);
  assert.equal(pool.size, 1);
  const third = pool.acquire(9, recorder(heard, 'c'));
  assert.equal(third, first, 'reused, not made anew');
  assert.equal(third.deviceIndex, 9);
  assert.equal(pool.size, 0);
  third.prepare('GET', '/y', {}, undefined, 1000, undefined, false);
  third.onResponseEnd();
  await Promise.resolve();
  assert.deepEqual(heard, ['a:failure', 'c:failure'], 'the new borrower hears the answer; the old one does not');
});
