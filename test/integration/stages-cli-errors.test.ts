import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { runCli } from '../helpers/cli.ts';
import { MINIMAL_DEVICE, TempDir } from '../helpers/temp-files.ts';

let temp: TempDir;
before(async () => {
  temp = await TempDir.create();
  await temp.write('probe.device.yaml', MINIMAL_DEVICE);
});
after(async () => {
  await temp.remove();
});

function assertOneCleanMessage(stderr: string, pattern: RegExp): void {
  const lines = stderr.split('\n').filter((line) => line.trim() && !line.includes('npm warn'));
  assert.equal(lines.length, 1, `expected one message, got:\n${stderr}`);
  assert.match(lines[0] ?? '', pattern);
  assert.doesNotMatch(stderr, /^\s+at /m, 'no stack trace');
}

describe('a malformed --stage: exit 2 with one message naming the flag and the value', () => {
  const cases: [string, RegExp][] = [
    ['30s', /^fleetsim: --stage: '30s' is not DURATION:DEVICES \(e\.g\. 30s:200\)$/],
    ['x:10', /^fleetsim: --stage: 'x:10' has no duration before the ':'/],
    ['30s:-1', /^fleetsim: --stage: '30s:-1' needs a whole number of devices \(0 or more\) after the ':'$/],
    ['0s:10', /^fleetsim: --stage: '0s:10' lasts no time: a stage needs a duration above 0$/],
  ];
  for (const [value, message] of cases) {
    test(`--stage ${value}`, async () => {
      const result = await runCli(['run', 'profiles/iot-node.yaml', '--stage', '5s:10', '--stage', value]);
      assert.equal(result.code, 2, result.stderr);
      assertOneCleanMessage(result.stderr, message);
    });
  }
});

describe('a bad stage list in a profile: exit 2 with one message naming file:line:column and the field', () => {
  const stages = 'stages:\n  - duration: 10s\n    devices: 20\n  - duration: 5s\n    devices: 5\n';
  const cases: [string, string, RegExp][] = [
    ['negative', stages.replace('devices: 5', 'devices: -3'), /^fleetsim: .*negative\.yaml:8:14: stages\[1\]\.devices: must be at least 0, got -3$/],
    ['zero', stages.replace('duration: 5s', 'duration: 0s'), /^fleetsim: .*zero\.yaml:7:15: stages\[1\]\.duration: must be greater than 0$/],
    ['missing', stages.replace('    devices: 20\n', ''), /^fleetsim: .*missing\.yaml:5:5: stages\[0\]: missing required field 'devices'$/],
  ];
  for (const [name, text, message] of cases) {
    test(`${name} (run and validate)`, async () => {
      const profile = await temp.write(`${name}.yaml`, `fleet:\n  - device: probe.device.yaml\n    count: 3\n${text}`);
      for (const command of ['run', 'validate']) {
        const result = await runCli([command, profile]);
        assert.equal(result.code, 2, result.stderr);
        assertOneCleanMessage(result.stderr, message);
      }
    });
  }
});
