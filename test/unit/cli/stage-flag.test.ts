import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { execute } from '../../../src/cli/main.ts';
import { overridesFromFlags, parseStage } from '../../../src/run/overrides.ts';
import { UsageError } from '../../../src/errors.ts';

async function cli(args: readonly string[]): Promise<{ code: number; stdout: string; stderr: string }> {
  let stdout = '';
  let stderr = '';
  const code = await execute(args, { stdout: (text) => (stdout += `${text}\n`), stderr: (text) => (stderr += `${text}\n`) });
  return { code, stdout, stderr };
}

describe('--stage DURATION:DEVICES', () => {
  test('parses k6 grammar: any duration unit, any count from 0', () => {
    assert.deepEqual(parseStage('30s:200'), { durationMs: 30_000, devices: 200 });
    assert.deepEqual(parseStage('500ms:0'), { durationMs: 500, devices: 0 });
    assert.deepEqual(parseStage('2m:10'), { durationMs: 120_000, devices: 10 });
    assert.deepEqual(parseStage('1.5:3'), { durationMs: 1500, devices: 3 });
    assert.deepEqual(parseStage(' 1h:5 '), { durationMs: 3_600_000, devices: 5 });
  });

  const bad: [string, RegExp][] = [
    ['30s', /^--stage: '30s' is not DURATION:DEVICES \(e\.g\. 30s:200\)$/],
    ['x:10', /^--stage: 'x:10' has no duration before the ':'/],
    ['30s:-1', /^--stage: '30s:-1' needs a whole number of devices \(0 or more\) after the ':'$/],
    ['0s:10', /^--stage: '0s:10' lasts no time: a stage needs a duration above 0$/],
    ['30s:2.5', /needs a whole number of devices/],
    ['30s:10:5', /is not DURATION:DEVICES/],
    ['1000h:5', /is too long: at most 24 days/],
    ['5s:2000000', /more than 1000000 devices/],
  ];
  for (const [text, message] of bad) {
    test(`refuses '${text}', naming the flag and the value`, () => {
      assert.throws(
        () => parseStage(text),
        (error: Error) => error instanceof UsageError && message.test(error.message),
      );
    });
  }

  test('repeated flags are the stages in order', () => {
    const overrides = overridesFromFlags({ stage: ['4s:40', '2s:40', '2s:10'] });
    assert.deepEqual(overrides.stages, [
      { durationMs: 4000, devices: 40 },
      { durationMs: 2000, devices: 40 },
      { durationMs: 2000, devices: 10 },
    ]);
  });

  test('the one-stage flags cannot be combined with --stage', () => {
    assert.throws(() => overridesFromFlags({ stage: '4s:40', duration: '10s' }), /--stage: cannot be combined with --duration/);
    assert.throws(() => overridesFromFlags({ stage: '4s:40', iterations: '3' }), /--stage: cannot be combined with --iterations/);
  });

  test('stages that never run a device are refused', () => {
    assert.throws(() => overridesFromFlags({ stage: ['4s:0', '1s:0'] }), /--stage: no stage runs a device/);
  });
});

test('validate prints the stage plan, one line per stage, and the fleet sized to the highest target', async () => {
  const result = await cli(['validate', 'profiles/iot-node.yaml', '--stage', '4s:40', '--stage', '2s:40', '--stage', '2s:10']);
  assert.equal(result.code, 0, result.stderr);
  assert.match(result.stdout, /valid\. 40 devices, 3 stages, seed 42\./);
  assert.match(result.stdout, /^ {2}40 × iot-node/m);
  assert.match(
    result.stdout,
    /^ {2}Stage 1: 0 → 40 devices over 4s \(0s–4s\)\.\n {2}Stage 2: hold 40 devices for 2s \(4s–6s\)\.\n {2}Stage 3: 40 → 10 devices over 2s \(6s–8s\)\.\n {2}Ends after 8s;/m,
  );
});

test('a malformed --stage: exit 2 and one line naming the flag and the value', async () => {
  const result = await cli(['validate', 'profiles/iot-node.yaml', '--stage', '30s:-1']);
  assert.equal(result.code, 2);
  assert.equal(result.stderr.trim().split('\n').length, 1, result.stderr);
  assert.match(result.stderr, /^fleetsim: --stage: '30s:-1' needs a whole number of devices/);
});
