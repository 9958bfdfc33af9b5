import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync } from 'node:fs';
import { readFile } from 'node:fs/promises';
import { HttpFixture } from '../../broker-fixture/index.ts';
import type { Results } from '../../src/metrics/results.ts';
import { runCli, startCli } from '../helpers/cli.ts';
import { MINIMAL_DEVICE, profileFor } from '../helpers/temp-files.ts';
import { useHttpFixture } from '../helpers/http-fixture-suite.ts';

const suite = useHttpFixture();

function assertOneCleanMessage(stderr: string, pattern: RegExp): void {
  const lines = stderr.split('\n').filter((line) => line.trim() && !line.includes('npm warn'));
  assert.equal(lines.length, 1, `expected one message, got:\n${stderr}`);
  assert.match(lines[0] ?? '', pattern);
  assert.doesNotMatch(stderr, /^\s+at /m, 'no stack trace');
}

describe('bad input: exit 2 with one message naming file, line and field', () => {
  test('an invalid device model', async () => {
    await suite.temp.write('bad.device.yaml', MINIMAL_DEVICE.replace('weight', 'wieght').replace('    http:\n', '    weight: heavy\n    http:\n'));
    const profile = await suite.temp.write('bad.yaml', profileFor('bad.device.yaml'));
    const result = await runCli(['run', profile, '--target', suite.url]);
    assert.equal(result.code, 2);
    assertOneCleanMessage(result.stderr, /^fleetsim: .*bad\.device\.yaml:5:13: tasks\[0\]\.weight: must be a number, got a string$/);
  });

  test('validate reports the same error', async () => {
    const profile = await suite.temp.write('bad2.yaml', profileFor('bad.device.yaml'));
    const result = await runCli(['validate', profile]);
    assert.equal(result.code, 2);
    assertOneCleanMessage(result.stderr, /bad\.device\.yaml:5:13: tasks\[0\]\.weight/);
  });

  test('a malformed flag value', async () => {
    const result = await runCli(['run', 'profiles/iot-node.yaml', '--duration', 'forever']);
    assert.equal(result.code, 2);
    assertOneCleanMessage(result.stderr, /--duration: 'forever' is not a duration/);
  });

  test('an unknown flag', async () => {
    const result = await runCli(['run', 'profiles/iot-node.yaml', '--devcies', '3']);
    assert.equal(result.code, 2);
    assert.match(result.stderr, /Unknown argument: devcies/);
    assert.doesNotMatch(result.stderr, /^\s+at /m);
  });

  test('a missing profile file', async () => {
    const result = await runCli(['run', 'profiles/none.yaml']);
    assert.equal(result.code, 2);
    assertOneCleanMessage(result.stderr, /profiles\/none\.yaml: file not found/);
  });

  test('more connections than the open-file limit allows: exit 2 before connecting, naming the limit', async () => {
    await suite.temp.write('fd.device.yaml', MINIMAL_DEVICE);
    const profile = await suite.temp.write('fd.yaml', `${profileFor('fd.device.yaml')}http:\n  connectionPerDevice: true\n`);
    const result = await runCli(['run', profile, '-u', '1000', '--target', suite.url], 30_000, 512);
    assert.equal(result.code, 2, result.stderr);
    assertOneCleanMessage(result.stderr, /needs about 1064 open files \(one HTTP connection per device for 1000 devices\) but the process limit is 512 \(ulimit -n\): raise it/);
    assert.equal(suite.server.counts['POST /data'], undefined, 'nothing was sent');
  });

  test('an output path that cannot be written fails before the run', async () => {
    const result = await runCli(['run', 'profiles/iot-node.yaml', '--target', suite.url, '--log-requests', suite.temp.file('missing-dir/log.ndjson')]);
    assert.equal(result.code, 2);
    assertOneCleanMessage(result.stderr, /--log-requests: cannot write .*log\.ndjson: directory .*missing-dir does not exist or is not writable/);
  });

  for (const key of ['__proto__', 'constructor', 'toString', 'hasOwnProperty', 'valueOf']) {
    test(`a profile key named after an Object member: ${key}`, async () => {
      const profile = await suite.temp.write(`proto-${key}.yaml`, `${profileFor('bad.device.yaml').replace('bad.device.yaml', 'proto.device.yaml')}${key}: 1\n`);
      await suite.temp.write('proto.device.yaml', MINIMAL_DEVICE);
      const result = await runCli(['validate', profile]);
      assert.equal(result.code, 2, result.stdout);
      assertOneCleanMessage(result.stderr, new RegExp(`proto-${key}\\.yaml:8:1: ${key}: unknown field '${key}' \\(expected one of: kind, name`));
    });
  }

  test('a target without its scheme is echoed, with the URL it probably meant', async () => {
    const result = await runCli(['validate', 'profiles/iot-node.yaml', '--target', 'localhost:8080']);
    assert.equal(result.code, 2);
    assertOneCleanMessage(result.stderr, /^fleetsim: --target: 'localhost:8080' has no scheme: did you mean 'http:\/\/localhost:8080'\?$/);
  });

  test('a bad --threshold', async () => {
    const result = await runCli(['run', 'profiles/iot-node.yaml', '--threshold', 'p95 <<< 3']);
    assert.equal(result.code, 2);
    assertOneCleanMessage(result.stderr, /--threshold: cannot parse threshold/);
  });
});

test('validate describes a valid profile and exits 0', async () => {
  const result = await runCli(['validate', 'profiles/iot-node.yaml']);
  assert.equal(result.code, 0, result.stderr);
  assert.match(result.stdout, /valid\. 200 devices/);
  assert.match(result.stdout, /POST \/data ×10, POST \/health ×1, GET \/ota ×1/);
});

test('a failed threshold exits 99 and is in the results', { timeout: 30_000 }, async () => {
  const json = suite.temp.file('threshold.json');
  const result = await runCli([
    'run',
    'profiles/iot-node-flat-out.yaml',
    '-u',
    '5',
    '--iterations',
    '3',
    '--target',
    suite.url,
    '--threshold',
    'p50 < 0.001ms',
    '--threshold',
    'failures < 1%',
    '--json',
    json,
    '--quiet',
  ]);
  assert.equal(result.code, 99, result.stderr);
  const results = JSON.parse(await readFile(json, 'utf8')) as Results;
  assert.deepEqual(
    results.thresholds.map((t) => [t.expr, t.ok]),
    [
      ['p50 < 0.001ms', false],
      ['failures < 1%', true],
    ],
  );
  assert.match(result.stdout, /FAIL p50 < 0\.001ms/);
});

test('with no target anywhere the embedded fixture is started and said so', { timeout: 30_000 }, async () => {
  const result = await runCli(['run', 'profiles/iot-node-flat-out.yaml', '-u', '4', '--iterations', '2', '--quiet']);
  assert.equal(result.code, 0, result.stderr);
  assert.match(result.stderr, /started the embedded HTTP fixture at http:\/\/127\.0\.0\.1:\d+ \(worker thread\)/);
  assert.match(result.stdout, /Aggregated\s+12\s+0\(0\.00%\)/);
});

test('Ctrl-C: exit 130 with the results and request log written', { timeout: 30_000 }, async () => {
  const json = suite.temp.file('interrupted.json');
  const log = suite.temp.file('interrupted.ndjson');
  const run = startCli(['run', 'profiles/iot-node.yaml', '-u', '20', '-r', '50', '-t', '10m', '--target', suite.url, '--json', json, '--log-requests', log]);
  await run.waitForStderr(/\[2s\S*\] devices 20\/20/);
  run.child.kill('SIGINT');
  const result = await run.done;
  assert.equal(result.code, 130, result.stderr);
  assert.ok(existsSync(json));
  const results = JSON.parse(await readFile(json, 'utf8')) as Results;
  assert.equal(results.stopReason, 'interrupted');
  assert.ok(results.total.requests >= 40);
  const lines = (await readFile(log, 'utf8')).trim().split('\n');
  assert.equal(lines.length, results.total.requests);
});

test('a second Ctrl-C abandons in-flight requests and still writes the results and the request log', { timeout: 30_000 }, async () => {
  const slow = new HttpFixture({ latencyMs: 20_000 });
  const slowUrl = await slow.listen(0);
  try {
    const json = suite.temp.file('abandoned.json');
    const log = suite.temp.file('abandoned.ndjson');
    const run = startCli(['run', 'profiles/iot-node.yaml', '-u', '5', '-r', '100', '-t', '10m', '--target', slowUrl, '--json', json, '--log-requests', log]);
    await run.waitForStderr(/\[2s\S*\] devices 5\/5/);
    run.child.kill('SIGINT');
    await run.waitForStderr(/Interrupted: draining/);
    const secondAt = Date.now();
    run.child.kill('SIGINT');
    const result = await run.done;
    assert.equal(result.code, 130, result.stderr);
    assert.ok(Date.now() - secondAt < 5000, 'the second Ctrl-C did not end the drain');
    const results = JSON.parse(await readFile(json, 'utf8')) as Results;
    assert.equal(results.abandoned, 5);
    assert.equal(results.total.requests, 0);
    assert.equal(results.total.failures, 0);
    assert.equal(results.abandonCause, 'second interrupt');
    const lines = (await readFile(log, 'utf8'))
      .trim()
      .split('\n')
      .map((line) => JSON.parse(line) as { outcome: string; error: string });
    assert.deepEqual(
      lines.map((line) => [line.outcome, line.error]),
      Array<string[]>(5).fill(['abandoned', 'abandoned at second interrupt']),
    );
    assert.match(result.stdout, /5 attempts were still in flight when a second interrupt ended the drain/);
  } finally {
    await slow.close();
  }
});

test('a request log that fails mid-run (disk full) still leaves the results JSON and the summary, then exit 2', { timeout: 30_000, skip: !existsSync('/dev/full') }, async () => {
  const json = suite.temp.file('full.json');
  const result = await runCli(['run', 'profiles/iot-node-flat-out.yaml', '-u', '4', '--iterations', '2', '--target', suite.url, '--log-requests', '/dev/full', '--json', json, '--quiet']);
  assert.equal(result.code, 2, result.stderr);
  assert.match(result.stderr, /fleetsim: --log-requests: disk full \(ENOSPC\) writing \/dev\/full/);
  assert.doesNotMatch(result.stderr, /^\s+at /m);
  const results = JSON.parse(await readFile(json, 'utf8')) as Results;
  assert.equal(results.total.requests, 12);
  assert.match(result.stdout, /Aggregated\s+12/);
});

test('--json naming a directory fails before the run', async () => {
  const result = await runCli(['run', 'profiles/iot-node.yaml', '--target', suite.url, '--json', suite.temp.file('')]);
  assert.equal(result.code, 2);
  assert.match(result.stderr, /--json: .* is a directory; name a file/);
});
