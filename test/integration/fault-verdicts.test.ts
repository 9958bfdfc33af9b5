import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { createServer } from 'node:net';
import type { AddressInfo } from 'node:net';
import { readFile } from 'node:fs/promises';
import type { Results } from '../../src/metrics/results.ts';
import { runCli } from '../helpers/cli.ts';
import { TempDir } from '../helpers/temp-files.ts';

let temp: TempDir;
before(async () => {
  temp = await TempDir.create();
});
after(async () => {
  await temp.remove();
});

/** A loopback port that was free a moment ago and that nobody listens on now. */
async function deadPort(): Promise<number> {
  const server = createServer();
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;
  await new Promise<void>((resolve) => server.close(() => resolve()));
  return port;
}

test('a dead target with only a latency threshold exits 99 and says no request got an answer', { timeout: 30_000 }, async () => {
  const json = temp.file('dead.json');
  const port = await deadPort();
  const result = await runCli([
    'run',
    'profiles/iot-node-flat-out.yaml',
    '-u',
    '3',
    '--iterations',
    '4',
    '--target',
    `http://127.0.0.1:${port}`,
    '--threshold',
    'p95 < 200ms',
    '--json',
    json,
    '--quiet',
  ]);
  assert.equal(result.code, 99, result.stderr);
  const results = JSON.parse(await readFile(json, 'utf8')) as Results;
  // 3 boot greetings and 3 × 4 tasks, every one refused.
  assert.equal(results.total.requests, 15);
  assert.equal(results.total.failures, 15);
  assert.deepEqual([...new Set(results.failures.map((failure) => failure.error))], ['ECONNREFUSED: connection refused']);
  // Refusals are no answers: their time is kept apart, and the latency of answers has no samples.
  assert.equal(results.total.latencyMs.p95, null);
  assert.equal(typeof results.total.failedLatencyMs.p95, 'number');
  const [threshold] = results.thresholds;
  assert.equal(threshold?.ok, false);
  assert.equal(threshold?.value, null);
  assert.match(threshold?.reason ?? '', /none of 15 requests got an answer \(15 failed, 0 timed out\)/);
  assert.match(result.stdout, /FAIL p95 < 200ms \(no latency samples to measure: none of 15 requests got an answer/);
  assert.match(result.stdout, /1 threshold: 1 failed/);
  assert.match(result.stdout, /Attempts with no answer \(refused, reset, timed out, lost\) are failures whose time is not latency: they took p50 [\d.]+ ms/);
});
