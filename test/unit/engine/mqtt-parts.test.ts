import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { backoffDelayMs } from '../../../src/engine/mqtt/mqtt-link.ts';
import fc from 'fast-check';
import { compileFilter } from '../../../src/engine/mqtt/topic-match.ts';
import { deviceRandom } from '../../../src/identity/rng.ts';

/** Filter matching as MQTT 4.7 words it, level lists side by side: what the compiled matcher must agree with. */
function splitMatch(filter: string, topic: string): boolean {
  if (topic.startsWith('$') && (filter.startsWith('+') || filter.startsWith('#'))) return false;
  const filterLevels = filter.split('/');
  const topicLevels = topic.split('/');
  for (const [i, level] of filterLevels.entries()) {
    if (level === '#') return true;
    if (i >= topicLevels.length || (level !== '+' && level !== topicLevels[i])) return false;
  }
  return filterLevels.length === topicLevels.length;
}

const topicMatches = (filter: string, topic: string): boolean => compileFilter(filter)(topic);

describe('topic filters', () => {
  test('the compiled matcher agrees with level-by-level matching on any filter and topic', () => {
    const level = fc.constantFrom('a', 'b', 'ab', '', '$SYS', '+', '#');
    const path = fc.array(level, { minLength: 1, maxLength: 5 }).map((levels) => levels.join('/'));
    fc.assert(
      fc.property(path, path, (filter, topic) => topicMatches(filter, topic) === splitMatch(filter, topic)),
      { numRuns: 5_000 },
    );
  });

  test('+ matches one level and # the rest', () => {
    assert.equal(topicMatches('devices/+/ota', 'devices/abc/ota'), true);
    assert.equal(topicMatches('devices/+/ota', 'devices/abc/ota/x'), false);
    assert.equal(topicMatches('devices/#', 'devices/abc/ota/x'), true);
    assert.equal(topicMatches('devices/#', 'devices'), true);
    assert.equal(topicMatches('devices/abc/ota', 'devices/abd/ota'), false);
    assert.equal(topicMatches('#', '$SYS/broker/uptime'), false);
    assert.equal(topicMatches('devices/+', 'devices/'), true);
    assert.equal(topicMatches('devices/+/ota', 'devices/abc'), false);
    assert.equal(topicMatches('devices/abc', 'devices/abc'), true);
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
