import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { readFile } from 'node:fs/promises';
import { HttpFixture } from '../../broker-fixture/index.ts';
import type { CoordinatedResults } from '../../src/distributed/coordinated-merge.ts';
import { createHistogram, recordMicros, summarize } from '../../src/metrics/histogram.ts';
import { startCli } from '../helpers/cli.ts';
import { TempDir } from '../helpers/temp-files.ts';

// Each device asks once a second and the server answers after 500 ms: every answer is counted in
// the middle of an interval, half a second from either edge, so which interval holds a log line is
// never a question of timer jitter or of the workers' start spread.
const DEVICE = `kind: device
name: half-second
tasks:
  - name: /health
    http: { method: GET, path: /health }
wait:
  model: pacing
  interval: 1s
`;

const PROFILE = `kind: profile
name: intervals
seed: 9
fleet:
  - device: half-second.device.yaml
    count: 30
spawnRate: 3000
duration: 4600ms
http:
  connections: 30
`;

const TOKEN = 'intervals-token-0123456789';

interface LogLine {
  readonly latencyMs: number;
  readonly doneAtMs: number;
  readonly outcome: string;
}

let temp: TempDir;
let server: HttpFixture;
let url: string;
before(async () => {
  temp = await TempDir.create();
  await temp.write('half-second.device.yaml', DEVICE);
  await temp.write('intervals.yaml', PROFILE);
  server = new HttpFixture({ latencyMs: 500 });
  url = await server.listen(0);
});
after(async () => {
  await server.close();
  await temp.remove();
});

function percentiles(lines: readonly LogLine[]): { p50: number | null; p99: number | null } {
  const histogram = createHistogram();
  for (const line of lines) recordMicros(histogram, line.latencyMs * 1000);
  const { p50, p99 } = summarize(histogram);
  return { p50, p99 };
}

test('a coordinated run of 3 workers: each merged interval has the p50 and p99 of the request-log lines it counted', { timeout: 60_000 }, async () => {
  const coordinator = startCli([
    'coordinate',
    temp.file('intervals.yaml'),
    '--target',
    url,
    '--workers',
    '3',
    '--local',
    '--listen',
    '127.0.0.1:0',
    '--token',
    TOKEN,
    '--min-delivered',
    'off',
    '--quiet',
    '--json',
    temp.file('fleet.json'),
    '--log-requests',
    temp.file('fleet.ndjson'),
  ]);
  const done = await coordinator.done;
  assert.equal(done.code, 0, done.stderr);
  const fleet = JSON.parse(await readFile(temp.file('fleet.json'), 'utf8')) as CoordinatedResults;
  const lines = (await readFile(temp.file('fleet.ndjson'), 'utf8'))
    .trim()
    .split('\n')
    .map((line) => JSON.parse(line) as LogLine);
  assert.equal(lines.length, fleet.total.requests, 'one log line per counted attempt');
  assert.ok(lines.every((line) => line.outcome === 'ok'));
  const startAt = Date.parse(fleet.coordinator.startAt ?? assert.fail('no common start'));
  assert.ok(fleet.coordinator.startSpreadMs !== null && fleet.coordinator.startSpreadMs <= 50, `start spread ${String(fleet.coordinator.startSpreadMs)} ms`);

  // A line counted k-1 to k seconds into its worker's run is in that worker's interval k, which the
  // merge keys by the wall-clock second it ended in (the start is on a whole second); the closing
  // stub of the run is the last point.
  const last = fleet.history.at(-1) ?? assert.fail('no history');
  const byPoint = new Map<number, LogLine[]>();
  for (const line of lines) {
    const fromEdge = line.doneAtMs % 1000;
    assert.ok(fromEdge > 150 && fromEdge < 850, `a line counted ${line.doneAtMs} ms in: too close to an interval's edge to place`);
    const second = startAt + Math.ceil(line.doneAtMs / 1000) * 1000;
    const timestamp = fleet.history.some((point) => point.timestamp === second) ? second : last.timestamp;
    byPoint.set(timestamp, [...(byPoint.get(timestamp) ?? []), line]);
  }

  let checked = 0;
  for (const point of fleet.history) {
    const counted = byPoint.get(point.timestamp) ?? [];
    assert.equal(point.total.requests, counted.length, `interval at ${point.atS} s: requests against its log lines`);
    if (counted.length === 0) continue;
    const expected = percentiles(counted);
    assert.deepEqual({ p50: point.total.latencyMs.p50, p99: point.total.latencyMs.p99 }, expected, `interval at ${point.atS} s (${counted.length} lines)`);
    checked++;
  }
  assert.ok(checked >= 4, `intervals checked: ${checked}`);
});
