import { test } from 'node:test';
import assert from 'node:assert/strict';
import { setImmediate as nextTurn } from 'node:timers/promises';
import type { Dispatcher } from 'undici';
import { HttpExchange } from '../../../src/transport/http/http-exchange.ts';
import type { AttemptResult } from '../../../src/transport/types.ts';

/** Counts what the exchange asks of the connection's controller. */
class CountingController {
  aborted = false;
  pauses = 0;
  resumes = 0;
  pause(): void {
    this.pauses++;
  }
  resume(): void {
    this.resumes++;
  }
  abort(): void {
    this.aborted = true;
  }
}

const SLICE = 64 * 1024;

test('a large body pauses the connection once per 64 KiB slice and resumes it on the next turn, request after request', async () => {
  const results: AttemptResult[] = [];
  const exchange = new HttpExchange(0, { httpEnded: (result) => results.push({ ...result }) });
  for (let request = 1; request <= 2; request++) {
    const fake = new CountingController();
    const controller = fake as unknown as Dispatcher.DispatchController;
    exchange.prepare('GET', '/big', {}, undefined, 5000, undefined, false);
    exchange.onRequestStart(controller);
    exchange.onResponseStart(controller, 200);
    for (let slice = 1; slice <= 3; slice++) {
      exchange.onResponseData(controller, Buffer.alloc(SLICE));
      assert.equal(fake.pauses, slice);
      assert.equal(fake.resumes, slice - 1, 'resumed only on a later turn of the loop');
      await nextTurn();
      assert.equal(fake.resumes, slice);
    }
    // A connection aborted while paused is left alone.
    exchange.onResponseData(controller, Buffer.alloc(SLICE));
    fake.aborted = true;
    await nextTurn();
    assert.equal(fake.pauses, 4);
    assert.equal(fake.resumes, 3);
    exchange.onResponseEnd();
    await nextTurn();
    assert.equal(results.length, request);
    assert.deepEqual(results[request - 1], { outcome: 'ok', error: undefined, bytesIn: 4 * SLICE, answered: true });
  }
});
