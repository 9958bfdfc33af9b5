import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFile } from 'node:fs/promises';
import { FleetsimError, MergeError, ReportWriteError, loadRunPlan, mergeResults, runPlan, runProfile } from '../../src/index.ts';
import type { Results } from '../../src/index.ts';
import { TempDir } from '../helpers/temp-files.ts';

const PROFILE = 'profiles/iot-node-flat-out.yaml';

test('runProfile runs a profile in one call against the embedded fixture and returns what --json writes', { timeout: 60_000 }, async () => {
  const temp = await TempDir.create();
  try {
    const lines: string[] = [];
    const json = temp.file('results.json');
    const results = await runProfile(PROFILE, { devices: 4, iterations: 3, seed: '9', json, log: (line) => lines.push(line) });
    assert.equal(results.schema, 'fleetsim.results/v1');
    assert.equal(results.seed, '9');
    assert.equal(results.stopReason, 'iterations');
    // Each device registers once (its boot task), then runs its 3 iterations.
    assert.equal(results.total.requests, 16);
    assert.equal(results.total.failures, 0);
    assert.deepEqual(JSON.parse(await readFile(json, 'utf8')), JSON.parse(JSON.stringify(results)));
    assert.ok(
      lines.some((line) => line.startsWith('No target in the profile or flags: started the embedded HTTP fixture')),
      lines.join('\n'),
    );
    // What --json writes merges as it is: a one-shard run merges to itself.
    const merged = mergeResults([JSON.parse(await readFile(json, 'utf8')) as Results]);
    assert.equal(merged.total.requests, 16);
    assert.deepEqual(merged.merged.present, [0]);
  } finally {
    await temp.remove();
  }
});

test('runPlan stops when its signal aborts, draining, and returns the results so far', { timeout: 60_000 }, async () => {
  const plan = await loadRunPlan(PROFILE, { devices: 2, durationMs: 60_000 });
  const controller = new AbortController();
  let attempts = 0;
  const results = await runPlan(plan, {
    signal: controller.signal,
    onEngine: (engine) =>
      engine.on('attempt', () => {
        if (++attempts === 20) controller.abort();
      }),
  });
  assert.equal(results.stopReason, 'requested');
  assert.ok(results.total.requests >= 20, String(results.total.requests));
  assert.ok(results.durationS < 30, `stopped after ${results.durationS} s`);
});

test('a report file that cannot be written is a coded error that still carries the results', { timeout: 60_000 }, async () => {
  const temp = await TempDir.create();
  try {
    const plan = await loadRunPlan(PROFILE, { devices: 1, iterations: 1 });
    // The report's parent is a file: the run goes ahead, the write fails, the results are kept.
    const blocker = await temp.write('blocker', '');
    await assert.rejects(
      runPlan(plan, { json: `${blocker}/results.json` }),
      (error: unknown) => error instanceof ReportWriteError && error.code === 'FLEETSIM_REPORT_WRITE' && /ENOTDIR/.test(error.message) && error.results.total.requests === 2,
    );
    await assert.rejects(runPlan(plan, { json: '-' }), (error: unknown) => error instanceof FleetsimError && error.code === 'FLEETSIM_USAGE' && /options\.json/.test(error.message));
  } finally {
    await temp.remove();
  }
});

test('a profile that cannot be read is a FleetsimError with a stable code, no TypeError', async () => {
  await assert.rejects(
    runProfile('profiles/no-such-profile.yaml'),
    (error: unknown) => error instanceof FleetsimError && error.code === 'FLEETSIM_FILE' && /no-such-profile\.yaml/.test(error.message),
  );
});

test('mergeResults says what it takes with a MergeError when given something else', () => {
  const refused = (inputs: unknown, pattern: RegExp): void =>
    assert.throws(
      () => mergeResults(inputs as Results[]),
      (error: unknown) => error instanceof MergeError && error instanceof FleetsimError && error.code === 'FLEETSIM_MERGE' && pattern.test(error.message),
    );
  refused(null, /expected an array of results objects .*got null/);
  refused({ schema: 'fleetsim.results/v1' }, /expected an array of results objects .*got object/);
  refused([null], /^results\[0\]: not a fleetsim results file/);
  refused([42], /^results\[0\]: not a fleetsim results file/);
  refused([{ schema: 'fleetsim.results/v1', stats: [], history: [] }], /^results\[0\]: a fleetsim\.results\/v1 object without thresholds, profile, shard/);
  refused([], /name at least one results file/);
});
