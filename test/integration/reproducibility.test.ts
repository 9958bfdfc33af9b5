import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFile } from 'node:fs/promises';
import { runCli } from '../helpers/cli.ts';
import { startScriptedBroker } from '../helpers/scripted-broker.ts';
import { useHttpFixture } from '../helpers/http-fixture-suite.ts';

const suite = useHttpFixture();

/** The reproducible part of each request-log line, sorted: timing and outcome may differ, what was sent may not. */
async function sentRequests(seed: string, extra: readonly string[] = [], run: readonly string[] = ['profiles/iot-node-flat-out.yaml', '--target', suite.url]): Promise<string[]> {
  const log = suite.temp.file(`log-${seed}-${Math.random().toString(36).slice(2)}.ndjson`);
  const result = await runCli(['run', ...run, '-u', '40', '-r', '400', '--iterations', '6', '--seed', seed, '--log-requests', log, '--quiet', ...extra]);
  assert.equal(result.code, 0, result.stderr);
  const lines = (await readFile(log, 'utf8')).trim().split('\n');
  return lines
    .map((line) => {
      const { device, seq, type, name, target, body } = JSON.parse(line) as Record<string, unknown>;
      return JSON.stringify([device, seq, type, name, target, body]);
    })
    .sort();
}

test('same seed and --iterations: identical request logs; another seed differs', { timeout: 60_000 }, async () => {
  const first = await sentRequests('7');
  // A different spawn rate changes every timing and the interleaving of devices, not what they send.
  const second = await sentRequests('7', ['-r', '7']);
  assert.equal(first.length, 40 * 7);
  assert.deepEqual(second, first);
  const other = await sentRequests('8');
  assert.equal(other.length, first.length);
  const shared = other.filter((line) => first.includes(line));
  assert.equal(shared.length, 0, 'a different seed must change ids and payloads');
});

test('MQTT lamps: same seed and --iterations give identical request logs, CONNECTs and bursts included', { timeout: 60_000 }, async () => {
  const broker = await startScriptedBroker({ puback: 'immediate' });
  try {
    const lamps = ['profiles/lamp-flat-out.yaml', '--broker', broker.url];
    const first = await sentRequests('7', [], lamps);
    const second = await sentRequests('7', ['-r', '13'], lamps);
    // Each lamp: one CONNECT, then 6 touches of 10 publishes.
    assert.equal(first.length, 40 * (1 + 6 * 10));
    assert.deepEqual(second, first);
    const other = await sentRequests('8', [], lamps);
    assert.notDeepEqual(other, first);
  } finally {
    await broker.close();
  }
});
