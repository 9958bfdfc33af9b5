import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { backoffDelayMs } from '../../../src/engine/mqtt-link.ts';
import { topicMatches } from '../../../src/engine/topic-match.ts';
import { deviceRandom } from '../../../src/identity/rng.ts';

describe('topic filters', () => {
  test('+ matches one level and # the rest', () => {
    assert.equal(topicMatches('devices/+/ota', 'devices/abc/ota'), true);
    assert.equal(topicMatches('devices/+/ota', 'devices/abc/ota/x'), false);
    assert.equal(topicMatches('devices/#', 'devices/abc/ota/x'), true);
    assert.equal(topicMatches('devices/#', 'devices'), true);
    assert.equal(topicMatches('devices/abc/ota', 'devices/abd/ota'), false);
    assert.equal(topicMatches('#', '$SYS/broker/uptime'), false);
  });
});

describe('reconnect backoff', () => {
  const policy = { minMs: 500, maxMs: 10_000, multiplier: 2, jitter: 0.5 };

  test('grows exponentially up to the cap, jittered down by at most the jitter fraction', () => {
    const random = deviceRandom('backoff', 0);
    for (let failures = 0; failures < 10; failures++) {
      const ceiling = Math.min(10_000, 500 * 2 ** failures);
      const delay = backoffDelayMs(policy, failures, random);
      assert.ok(delay <= ceiling && delay >= ceiling / 2, `attempt ${failures}: ${delay} outside [${ceiling / 2}, ${ceiling}]`);
    }
  });

  test('is seeded: the same device draws the same delays, and devices differ', () => {
    const draw = (index: number): number[] => {
      const random = deviceRandom('backoff', index);
      return [0, 1, 2, 3].map((failures) => backoffDelayMs(policy, failures, random));
    };
    assert.deepEqual(draw(3), draw(3));
    assert.notDeepEqual(draw(3), draw(4));
  });

  test('spreads a fleet instead of reconnecting in lockstep', () => {
    const delays = Array.from({ length: 200 }, (_, index) => backoffDelayMs(policy, 0, deviceRandom('spread', index)));
    // 200 draws over 250 possible milliseconds: about 140 distinct values if uniform, 1 in lockstep.
    const distinctMs = new Set(delays.map((delay) => Math.round(delay)));
    assert.ok(distinctMs.size > 100, `only ${distinctMs.size} distinct delays`);
    assert.ok(Math.max(...delays) - Math.min(...delays) > 200);
  });
});
