import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import path from 'node:path';
import type { Results } from '../../src/metrics/results.ts';
import { ROOT, runCli } from '../helpers/cli.ts';
import { TempDir } from '../helpers/temp-files.ts';

let temp: TempDir;
let profile: string;
before(async () => {
  temp = await TempDir.create();
  profile = await temp.write('plain.yaml', `kind: profile\nname: plain\nseed: 2\nfleet:\n  - device: ${path.join(ROOT, 'devices/iot-node.yaml')}\n    count: 3\nspawnRate: 30\nduration: 2s\n`);
});
after(async () => {
  await temp.remove();
});

test('--json - puts the results alone on stdout, and the summary on stderr', { timeout: 30_000 }, async () => {
  const result = await runCli(['run', profile, '--json', '-', '--quiet']);
  assert.equal(result.code, 0, result.stderr);
  const results = JSON.parse(result.stdout) as Results;
  assert.equal(results.schema, 'fleetsim.results/v1');
  assert.equal(results.devices.started, 3);
  assert.match(result.stderr, /^\s+Aggregated\s+\d+/m);
});

test('--exit-code-on-error N: N when any attempt failed, 0 when none did; thresholds take precedence', { timeout: 60_000 }, async () => {
  const failing = await runCli(['run', profile, '--target', 'http://127.0.0.1:1', '--exit-code-on-error', '3', '--quiet']);
  assert.equal(failing.code, 3, failing.stderr);
  const clean = await runCli(['run', profile, '--exit-code-on-error', '3', '--quiet']);
  assert.equal(clean.code, 0, clean.stderr);
  const threshold = await runCli(['run', profile, '--target', 'http://127.0.0.1:1', '--exit-code-on-error', '3', '--threshold', 'failures < 1%', '--quiet']);
  assert.equal(threshold.code, 99);
  const bad = await runCli(['run', profile, '--exit-code-on-error', '300']);
  assert.equal(bad.code, 2);
  assert.match(bad.stderr, /--exit-code-on-error: expected an exit code from 0 to 255, got '300'/);
});
