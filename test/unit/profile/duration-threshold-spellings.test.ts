import { test } from 'node:test';
import assert from 'node:assert/strict';
import { DURATION_PATTERN, parseDurationMs } from '../../../src/profile/duration.ts';
import { parseThreshold } from '../../../src/profile/thresholds.ts';

test('durations: single units, compounds from the largest unit down (k6 and Go), and bare seconds', () => {
  const pattern = new RegExp(DURATION_PATTERN);
  const good: [string, number][] = [
    ['500ms', 500],
    ['5s', 5000],
    ['2m', 120_000],
    ['1.5m', 90_000],
    ['90', 90_000],
    ['1h', 3_600_000],
    ['1m30s', 90_000],
    ['1h30m', 5_400_000],
    ['2s500ms', 2500],
    ['1d2h3m4s5ms', 93_784_005],
    [' 1m30s ', 90_000],
  ];
  for (const [text, ms] of good) {
    assert.equal(parseDurationMs(text), ms, text);
    assert.ok(pattern.test(text), `the schema pattern accepts ${text}`);
  }
  for (const text of ['', 'ms', 'm', '30s1m', '1m 30s', '1m30', '-5s', '1.5.2s', '5 min']) {
    assert.equal(parseDurationMs(text), undefined, text);
    assert.ok(!pattern.test(text), `the schema pattern refuses ${text}`);
  }
});

test("thresholds: k6's p(95)<200 and med spellings read as fleetsim's metrics", () => {
  assert.deepEqual(parseThreshold('p(95)<200'), { expr: 'p(95)<200', selector: undefined, metric: 'p95', operator: '<', value: 200 });
  assert.equal(parseThreshold('PUBLISH: p(99.9) < 50ms').metric, 'p999');
  assert.equal(parseThreshold('PUBLISH: p(99.9) < 50ms').selector, 'PUBLISH');
  assert.equal(parseThreshold('p(99.99)<1s').metric, 'p9999');
  assert.equal(parseThreshold('med<10').metric, 'p50');
  assert.equal(parseThreshold('p(100) <= 2s').metric, 'max');
  assert.throws(() => parseThreshold('p(97)<3'), /p\(97\) is not a percentile fleetsim keeps \(p\(50\), p\(66\)/);
});
