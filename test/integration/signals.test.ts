import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFile } from 'node:fs/promises';
import type { Results } from '../../src/metrics/results.ts';
import { startCli } from '../helpers/cli.ts';
import { HttpFixture } from '../../broker-fixture/index.ts';
import { useHttpFixture } from '../helpers/http-fixture-suite.ts';

const suite = useHttpFixture();

interface LogLine {
  readonly outcome: string;
  readonly error?: string;
}

async function logLines(file: string): Promise<LogLine[]> {
  return (await readFile(file, 'utf8'))
    .trim()
    .split('\n')
    .map((line) => JSON.parse(line) as LogLine);
}

test('SIGTERM drains, writes every report, exits 143, and does not speak of Ctrl-C; SIGHUP before it changes nothing', { timeout: 30_000 }, async () => {
  const json = suite.temp.file('terminated.json');
  const log = suite.temp.file('terminated.ndjson');
  const csv = suite.temp.file('terminated');
  const html = suite.temp.file('terminated.html');
  const run = startCli(['run', 'profiles/iot-node.yaml', '-u', '20', '-r', '50', '-t', '10m', '--target', suite.url, '--json', json, '--log-requests', log, '--csv', csv, '--html', html]);
  await run.waitForStderr(/\[2s\S*\] devices 20\/20/);
  // A closed terminal sends SIGHUP: the run must go on (Node's default would end it, unreported).
  run.child.kill('SIGHUP');
  await run.waitForStderr(/\[4s\S*\] devices 20\/20/);
  assert.equal(run.child.exitCode, null, 'still running after SIGHUP');
  run.child.kill('SIGTERM');
  const result = await run.done;
  assert.equal(result.code, 143, result.stderr);
  assert.match(result.stderr, /Terminated \(SIGTERM\): draining in-flight requests, then writing reports/);
  assert.doesNotMatch(result.stderr, /Ctrl-C again|Interrupted/);
  const results = JSON.parse(await readFile(json, 'utf8')) as Results;
  assert.equal(results.stopReason, 'terminated');
  assert.equal(results.abandoned, 0);
  assert.ok(results.total.requests >= 40, String(results.total.requests));
  // Every report is whole: the log has a line per counted attempt, the CSV a row per stats row.
  const lines = await logLines(log);
  assert.equal(lines.length, results.total.requests);
  assert.ok(lines.every((line) => line.outcome === 'ok'));
  const stats = (await readFile(`${csv}_stats.csv`, 'utf8')).trim().split('\n');
  assert.equal(stats.length, 1 + results.stats.length + 1, 'header, each row, Aggregated');
  assert.match(await readFile(html, 'utf8'), /<\/html>\s*$/);
  // What the server counted is what fleetsim counted: the drain let every request finish.
  const served = Object.values(suite.server.counts).reduce((sum, count) => sum + count.requests, 0);
  assert.equal(served, results.total.requests);
});

test('a second SIGTERM abandons what is in flight, labelled as such, and still exits 143 with the reports', { timeout: 30_000 }, async () => {
  const slow = new HttpFixture({ latencyMs: 20_000 });
  const slowUrl = await slow.listen(0);
  try {
    const json = suite.temp.file('terminated-twice.json');
    const log = suite.temp.file('terminated-twice.ndjson');
    const run = startCli(['run', 'profiles/iot-node.yaml', '-u', '4', '-r', '100', '-t', '10m', '--target', slowUrl, '--json', json, '--log-requests', log]);
    await run.waitForStderr(/\[2s\S*\] devices 4\/4/);
    run.child.kill('SIGTERM');
    await run.waitForStderr(/Terminated \(SIGTERM\): draining/);
    run.child.kill('SIGTERM');
    const result = await run.done;
    assert.equal(result.code, 143, result.stderr);
    assert.match(result.stderr, /Abandoning in-flight requests; writing reports \(another SIGTERM or Ctrl-C to quit without them\)/);
    const results = JSON.parse(await readFile(json, 'utf8')) as Results;
    assert.equal(results.abandoned, 4);
    assert.equal(results.abandonCause, 'second interrupt');
    assert.deepEqual(
      (await logLines(log)).map((line) => [line.outcome, line.error]),
      Array<string[]>(4).fill(['abandoned', 'abandoned at second interrupt']),
    );
  } finally {
    await slow.close();
  }
});
