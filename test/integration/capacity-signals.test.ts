import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFile } from 'node:fs/promises';
import type { CapacityReport } from '../../src/cli/capacity-command.ts';
import { startCli } from '../helpers/cli.ts';
import { useHttpFixture } from '../helpers/http-fixture-suite.ts';

const suite = useHttpFixture();

test('capacity: SIGTERM ends the search, writes its report, and exits 143', { timeout: 30_000 }, async () => {
  const json = suite.temp.file('capacity.json');
  const run = startCli([
    'capacity',
    'profiles/iot-node-flat-out.yaml',
    '--target',
    suite.url,
    '--slo',
    'p95 < 5s',
    '--start',
    '5',
    '--step',
    '5',
    '--max-devices',
    '50',
    '--step-duration',
    '2s',
    '--settle',
    '1s',
    '-r',
    '100',
    '--json',
    json,
  ]);
  await run.waitForStderr(/stepping to 10 devices/);
  run.child.kill('SIGTERM');
  const result = await run.done;
  assert.equal(result.code, 143, result.stderr);
  assert.match(result.stderr, /Terminated \(SIGTERM\): draining/);
  const report = JSON.parse(await readFile(json, 'utf8')) as CapacityReport;
  assert.equal(report.limitedBy, 'interrupted');
  assert.ok(report.steps.length >= 1 && report.steps.every((step) => step.ok));
});
