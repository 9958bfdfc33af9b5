import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mergeResults, MergeError } from '../../../src/distributed/merge.ts';
import type { ShardResults } from '../../../src/distributed/merge.ts';
import { evaluateThresholds } from '../../../src/metrics/evaluate-thresholds.ts';
import { historyTable, mergeHistories } from '../../../src/distributed/merge-history.ts';
import { NO_LATENCY, PERCENTILES } from '../../../src/metrics/histogram.ts';
import type { LatencySummary } from '../../../src/metrics/histogram.ts';
import type { HistoryPoint, HistoryRow } from '../../../src/metrics/history.ts';
import { buildResults } from '../../../src/metrics/results.ts';
import { formatSummary } from '../../../src/report/console.ts';
import type { Results } from '../../../src/metrics/results.ts';
import { RunStats } from '../../../src/metrics/stats.ts';
import { seededSamples } from '../../helpers/samples.ts';

const START = Date.parse('2026-05-01T12:00:00Z');
const GENERATOR = { cpuPercent: 20, maxRssBytes: 1e8, eventLoopLagP99Ms: 2 };
const HEALTH = { busyPercent: 10, lagP99Ms: 1 };

interface Options {
  readonly shard?: { index: number; count: number };
  readonly seed?: string;
  readonly sha256?: string;
  readonly thresholds?: readonly string[];
  readonly generator?: Results['generator'];
  /** Ms the shard's clock is off from the others' (its history timestamps). */
  readonly skewMs?: number;
}

/**
 * A run's results from per-second samples: `seconds[s][row]` are the latencies (µs) of row `row`
 * that finished in second s. The same samples split over shards must merge into the same rows.
 */
function resultsOf(seconds: readonly (readonly (readonly number[])[])[], options: Options = {}): Results {
  const stats = new RunStats();
  const rows = [stats.entryFor('POST', '/data'), stats.entryFor('GET', '/ota'), stats.entryFor('PUBLISH', 'touch')];
  seconds.forEach((second, s) => {
    second.forEach((samples, r) => {
      // Whether a sample timed out follows from the sample, not its position, so a shard's split of them keeps the same ones.
      for (const micros of samples) rows[r]?.record(micros % 17 === 3 ? 'timeout' : 'ok', micros % 17 === 3 ? 'ack timeout' : undefined, micros, micros + 50, 100, false);
    });
    stats.snapshot((s + 1) * 1000, 5, 5, HEALTH);
  });
  const history = stats.history.points.map((point, s) => ({ ...point, timestamp: START + (s + 1) * 1000 + (options.skewMs ?? 0) }));
  const partial = buildResults({
    version: 'test',
    seed: options.seed ?? '7',
    profilePath: 'profiles/x.yaml',
    profileSha256: options.sha256 ?? 'a'.repeat(64),
    startedAt: new Date(START),
    endedAt: new Date(START + seconds.length * 1000),
    stopReason: 'iterations',
    shard: options.shard ?? { index: 0, count: 1 },
    devices: { target: 5, started: 5, online: 5, timeToAllOnlineMs: 100 },
    entries: stats.entries,
    history,
    saturation: stats.saturation,
    generator: options.generator ?? GENERATOR,
    warnings: [],
  });
  return { ...partial, thresholds: evaluateThresholds(partial, options.thresholds ?? ['p95 < 100ms', 'POST /data: failures < 1']) };
}

/** Three seconds of three rows, dealt to `count` shards round robin per sample. */
function splitRun(count: number): { single: Results; shards: ShardResults[] } {
  const random = seededSamples(42);
  const seconds = [0, 1, 2].map(() => [0, 1, 2].map((row) => Array.from({ length: 200 + row * 50 }, () => random(row))));
  const deal = (index: number): number[][][] => seconds.map((second) => second.map((samples) => samples.filter((_, i) => i % count === index)));
  return {
    single: resultsOf(seconds),
    shards: Array.from({ length: count }, (_, index) => ({ source: `shard${index}.json`, results: resultsOf(deal(index), { shard: { index, count }, skewMs: index * 37 }) })),
  };
}

test('merged rows equal the single run: counts summed, every percentile from the merged histograms', () => {
  const { single, shards } = splitRun(3);
  const merged = mergeResults(shards, { version: 'test' });
  for (const key of ['requests', 'failures', 'timeouts', 'bytesIn'] as const) assert.equal(merged.total[key], single.total[key], key);
  assert.deepEqual(merged.total.latencyMs, single.total.latencyMs);
  assert.deepEqual(
    merged.stats.map((row) => [row.type, row.name, row.requests, row.latencyMs]),
    single.stats.map((row) => [row.type, row.name, row.requests, row.latencyMs]),
  );
  assert.deepEqual(
    merged.types.map((row) => [row.name, row.latencyMs]),
    single.types.map((row) => [row.name, row.latencyMs]),
  );
  assert.deepEqual(
    merged.stats.map((row) => row.intendedLatencyMs),
    single.stats.map((row) => row.intendedLatencyMs),
  );
  // The timed-out attempts' own latency merges as exactly.
  assert.ok(single.total.failedLatencyMs.max !== null);
  assert.deepEqual(
    merged.stats.map((row) => row.failedLatencyMs),
    single.stats.map((row) => row.failedLatencyMs),
  );
  assert.deepEqual(merged.total.failedLatencyMs, single.total.failedLatencyMs);
  assert.deepEqual(merged.failures, single.failures);
  const shardMax = Math.max(...shards.map((shard) => shard.results.total.latencyMs.max ?? 0));
  assert.equal(merged.total.latencyMs.max, shardMax);
  const ordered = PERCENTILES.map(([key]) => merged.total.latencyMs[key] as number);
  assert.deepEqual(
    ordered,
    [...ordered].sort((a, b) => a - b),
  );
  assert.ok((ordered.at(-1) ?? Infinity) <= shardMax);
  assert.deepEqual(
    merged.thresholds.map((t) => [t.expr, t.ok, t.value]),
    single.thresholds.map((t) => [t.expr, t.ok, t.value]),
  );
  assert.deepEqual(merged.devices.target, 15);
  assert.deepEqual(merged.merged, { count: 3, present: [0, 1, 2], missing: [], partial: false, note: merged.merged.note });
});

test('history: aligned by wall-clock second, counts summed, percentiles the worst shard', () => {
  const { single, shards } = splitRun(2);
  const merged = mergeResults(shards, { version: 'test' });
  assert.equal(merged.history.length, 3);
  merged.history.forEach((point, s) => {
    const reference = single.history[s];
    assert.equal(point.timestamp, START + (s + 1) * 1000);
    assert.equal(point.total.requests, reference?.total.requests);
    assert.equal(point.total.cumulative.requests, reference?.total.cumulative.requests);
    assert.equal(point.devicesOnline, 10);
    const worstP95 = Math.max(...shards.map((shard) => shard.results.history[s]?.total.latencyMs.p95 ?? 0));
    assert.equal(point.total.latencyMs.p95, worstP95);
    assert.equal(point.total.latencyMs.max, reference?.total.latencyMs.max);
    assert.deepEqual(
      point.rows.map((row) => row.requests),
      reference?.rows.map((row) => row.requests),
    );
  });
});

test('generator health is kept per shard; the merged one is the most strained shard', () => {
  const { shards } = splitRun(3);
  const strained = { cpuPercent: 40, maxRssBytes: 1e8, eventLoopLagP99Ms: 60 };
  const withStrain = shards.map((shard, i) => (i === 1 ? { ...shard, results: { ...shard.results, generator: strained } } : shard));
  const merged = mergeResults(withStrain, { version: 'test' });
  assert.deepEqual(merged.generator, strained);
  assert.deepEqual(
    merged.shards.map((shard) => [shard.index, shard.generator.eventLoopLagP99Ms]),
    [
      [0, 2],
      [1, 60],
      [2, 2],
    ],
  );
});

test('refuses results of different runs, duplicated and missing shards; --partial says so', () => {
  const { shards } = splitRun(3);
  const [a, b, c] = shards as [ShardResults, ShardResults, ShardResults];
  const refuse = (inputs: ShardResults[], pattern: RegExp): void =>
    assert.throws(
      () => mergeResults(inputs, { version: 'test' }),
      (error: unknown) => error instanceof MergeError && pattern.test(error.message),
    );
  const changed = (shard: ShardResults, results: Partial<Results>): ShardResults => ({ ...shard, results: { ...shard.results, ...results } });
  refuse([a, changed(b, { profile: { path: 'p', sha256: 'b'.repeat(64) } }), c], /^shard1\.json: profile sha256 bbbbbbbbbbbb differs from shard0\.json's/);
  refuse([a, changed(b, { seed: '8' }), c], /^shard1\.json: seed 8 differs/);
  refuse([a, changed(b, { shard: { index: 1, count: 4 } }), c], /shard count 4 differs/);
  refuse([a, b, changed(c, { thresholds: [] })], /^shard2\.json: thresholds \[\] differs/);
  refuse([a, b, { ...b, source: 'again.json' }], /^again\.json: shard 1\/3 again \(also shard1\.json\)/);
  refuse([a, c], /missing shard 1\/3 \(have 2 of 3\); pass --partial/);
  refuse([changed(a, { schema: 'other' as 'fleetsim.results/v1' })], /^shard0\.json: not a fleetsim results file/);
  const partial = mergeResults([a, c], { version: 'test', partial: true });
  assert.deepEqual([partial.merged.partial, partial.merged.missing], [true, [1]]);
  assert.match(partial.warnings[0] ?? '', /^partial merge: shard 1\/3 missing/);
  assert.equal(partial.total.requests, a.results.total.requests + c.results.total.requests);
});

/** A history row with `requests` in its interval and `soFar` in the run, every latency figure `ms`. */
function historyRow(type: string, name: string, requests: number, soFar: number, ms: number): HistoryRow {
  const latency = Object.fromEntries([['min', ms], ['mean', ms], ['max', ms], ...PERCENTILES.map(([key]) => [key, ms])]) as LatencySummary;
  return {
    type,
    name,
    requests,
    failures: 0,
    timeouts: 0,
    rps: requests,
    failuresPerS: 0,
    latencyMs: requests > 0 ? latency : NO_LATENCY,
    cumulative: { requests: soFar, failures: 0, bytesIn: soFar * 10, latencyMs: { p50: ms, mean: ms, min: ms, max: ms } },
  };
}

function historyPoint(timestamp: number, devices: number, rows: readonly HistoryRow[]): HistoryPoint {
  const requests = rows.reduce((sum, row) => sum + row.requests, 0);
  const soFar = rows.reduce((sum, row) => sum + row.cumulative.requests, 0);
  return {
    atS: 0,
    timestamp,
    intervalS: 1,
    folded: 1,
    devicesOnline: devices,
    devicesTarget: devices,
    generator: HEALTH,
    saturated: false,
    total: historyRow('', 'Aggregated', requests, soFar, 5),
    types: [],
    rows,
  };
}

test("history: a shard's two points in one second fold, a gap carries its run-so-far counts, an ended shard has no devices", () => {
  const a = [
    historyPoint(START + 1000, 3, [historyRow('POST', '/a', 10, 10, 4)]),
    historyPoint(START + 2000, 3, [historyRow('POST', '/a', 5, 15, 6)]),
    historyPoint(START + 2400, 3, [historyRow('POST', '/a', 3, 18, 2), historyRow('GET', '/b', 2, 2, 9)]),
    historyPoint(START + 3000, 3, []),
  ];
  const b = [historyPoint(START + 1000, 2, [historyRow('POST', '/a', 4, 4, 7)])];
  const merged = mergeHistories([historyTable(a), historyTable(b)], START);
  assert.deepEqual(
    merged.map((point) => [point.atS, point.devicesOnline]),
    [
      [1, 5],
      [2, 3],
      [3, 3],
    ],
  );
  const rows = merged.map((point) => point.rows.map((row) => [row.type, row.name, row.requests, row.cumulative.requests, row.latencyMs.max]));
  assert.deepEqual(rows, [
    [['POST', '/a', 14, 14, 7]],
    // A's points at 2.0 and 2.4 s are one interval; B's run-so-far 4 is carried.
    [
      ['POST', '/a', 8, 22, 6],
      ['GET', '/b', 2, 2, 9],
    ],
    [
      ['POST', '/a', 0, 22, null],
      ['GET', '/b', 0, 2, null],
    ],
  ]);
  const second = merged[1];
  assert.equal(second?.intervalS, 2);
  assert.equal(second?.rows[0]?.latencyMs.mean, 4.5);
  assert.equal(second?.total.requests, 10);
});

test('every stats row counter is summed, qosDowngrades included, in the rows and the aggregates', () => {
  const { shards } = splitRun(2);
  const downgraded = shards.map((shard, i) => ({
    ...shard,
    results: { ...shard.results, stats: shard.results.stats.map((row) => (row.type === 'PUBLISH' ? { ...row, qosDowngrades: i + 2, late: i + 1, missed: 1, lateAcks: 3 } : row)) },
  }));
  const merged = mergeResults(downgraded, { version: 'test' });
  const publish = merged.stats.find((row) => row.type === 'PUBLISH');
  assert.deepEqual([publish?.qosDowngrades, publish?.late, publish?.missed, publish?.lateAcks], [5, 3, 2, 6]);
  assert.equal(merged.total.qosDowngrades, 5);
  assert.equal(merged.types.find((row) => row.type === 'PUBLISH')?.qosDowngrades, 5);
  // A row with none has no such field, as a run's own results leave it out.
  assert.equal(merged.stats.find((row) => row.type === 'POST')?.qosDowngrades, undefined);
});

test("each shard's abandon cause is carried through: one when all agree, each shard's when they differ", () => {
  const { shards } = splitRun(3);
  const [a, b, c] = shards as [ShardResults, ShardResults, ShardResults];
  const abandon = (shard: ShardResults, abandoned: number, abandonCause: Results['abandonCause']): ShardResults => ({ ...shard, results: { ...shard.results, abandoned, abandonCause } });
  const interrupted = mergeResults([abandon(a, 2, 'second interrupt'), abandon(b, 1, 'second interrupt'), abandon(c, 0, 'second interrupt')], { version: 'test' });
  assert.deepEqual([interrupted.abandoned, interrupted.abandonCause], [3, 'second interrupt']);
  // A shard that abandoned nothing has no say in what abandoned the rest.
  const one = mergeResults([abandon(a, 0, 'drain timeout'), abandon(b, 4, 'second interrupt'), abandon(c, 0, 'drain timeout')], { version: 'test' });
  assert.deepEqual([one.abandoned, one.abandonCause], [4, 'second interrupt']);
  const mixed = mergeResults([abandon(a, 2, 'second interrupt'), abandon(b, 0, 'drain timeout'), abandon(c, 5, 'drain timeout')], { version: 'test' });
  assert.deepEqual([mixed.abandoned, mixed.abandonCause], [7, 'shard 0: second interrupt; shard 2: drain timeout']);
  assert.deepEqual(
    mixed.shards.map((shard) => [shard.abandoned, shard.abandonCause]),
    [
      [2, 'second interrupt'],
      [0, 'drain timeout'],
      [5, 'drain timeout'],
    ],
  );
});

test("history: a shard's two points in one second give the rate over both intervals, not the sum of their rates", () => {
  const point = (timestamp: number, intervalS: number, requests: number): HistoryPoint => {
    const row = { ...historyRow('POST', '/a', requests, requests, 5), rps: requests / intervalS, failures: 1, failuresPerS: 1 / intervalS };
    return { ...historyPoint(timestamp, 1, [row]), intervalS, total: { ...row, type: '', name: 'Aggregated' } };
  };
  // Timer jitter: one interval ends at 1.05 s, the next, cut short, at 1.45 s; both round to second 1.
  const early = point(START + 1050, 0.6, 60);
  // A row only the earlier point lists is kept, its rate over both intervals too.
  const withOther = { ...early, rows: [...early.rows, { ...historyRow('GET', '/c', 30, 30, 5), rps: 50 }] };
  const merged = mergeHistories([historyTable([withOther, point(START + 1450, 0.4, 40)])], START);
  assert.equal(merged.length, 1);
  const only = merged[0];
  assert.equal(only?.intervalS, 1);
  assert.deepEqual([only?.total.requests, only?.total.rps, only?.total.failuresPerS], [100, 100, 2]);
  assert.deepEqual(
    only?.rows.map((row) => [row.type, row.name, row.requests, row.rps]),
    [
      ['POST', '/a', 100, 100],
      ['GET', '/c', 30, 30],
    ],
  );
});

const brokerSeen = (publishReceived: number, peak: number): NonNullable<Results['broker']> => ({
  source: '$SYS',
  publishReceived,
  publishSent: publishReceived * 2,
  publishDropped: 0,
  messagesReceived: publishReceived + 10,
  messagesSent: publishReceived * 2 + 10,
  clientsConnected: { peak, last: 3 },
  load1min: { 'messages/received': 600 },
  fresh: true,
});

test("the broker's $SYS figures: one shard's observation, never summed, named in its notes; the summary shows them once", () => {
  const { shards } = splitRun(3);
  const [a, b, c] = shards as [ShardResults, ShardResults, ShardResults];
  const withBroker = (shard: ShardResults, broker: Results['broker'], startShiftMs = 0, endShiftMs = 0): ShardResults => ({
    ...shard,
    results: {
      ...shard.results,
      ...(broker ? { broker } : {}),
      startedAt: new Date(Date.parse(shard.results.startedAt) + startShiftMs).toISOString(),
      endedAt: new Date(Date.parse(shard.results.endedAt) + endShiftMs).toISOString(),
    },
  });
  // Shard 1 started first and ended last: its window is the fleet's.
  const covering = mergeResults([withBroker(a, brokerSeen(900, 40), 0, -200), withBroker(b, brokerSeen(1000, 41), -300, 400), withBroker(c, brokerSeen(950, 39))], { version: 'test' });
  assert.equal(covering.broker?.publishReceived, 1000);
  assert.deepEqual(covering.broker?.clientsConnected, { peak: 41, last: 3 });
  assert.match(covering.broker?.notes?.at(-1) ?? '', /^merge: shard 1\/3's observation, the one whose run covered the most of the fleet's \(100%\); not a sum over shards/);
  assert.match(covering.broker?.notes?.at(-1) ?? '', /probes of the 3 shards/);
  const summary = formatSummary(covering);
  assert.equal(summary.match(/Broker \(\$SYS\)/g)?.length, 1, summary);
  assert.match(summary, /received 1,000 publishes/);
  // Equal windows: the lowest shard; a shard's own notes are kept before the merge's.
  const equal = mergeResults([withBroker(a, undefined), withBroker(b, { ...brokerSeen(700, 5), notes: ['websocket'] }), withBroker(c, brokerSeen(650, 5))], { version: 'test' });
  assert.equal(equal.broker?.publishReceived, 700);
  assert.equal(equal.broker?.notes?.[0], 'websocket');
  assert.match(equal.broker?.notes?.[1] ?? '', /^merge: shard 1\/3's observation/);
  // The only observer ran part of the fleet's window: the note says what that leaves out.
  const partial = mergeResults([withBroker(a, undefined, -1000), withBroker(b, undefined), withBroker(c, brokerSeen(500, 2))], { version: 'test' });
  assert.equal(partial.broker?.publishReceived, 500);
  assert.match(partial.broker?.notes?.at(-1) ?? '', /\(75%\).*outside that window is not in these figures/);
  assert.doesNotMatch(partial.broker?.notes?.at(-1) ?? '', /probes of the/);
  assert.equal(mergeResults(shards, { version: 'test' }).broker, undefined);
});

test('device lifecycle counts are summed over the shards, their planned parts too', () => {
  const { shards } = splitRun(3);
  const lifecycle = (n: number): NonNullable<Results['lifecycle']> => ({
    sleeps: n,
    wakes: n + 1,
    reboots: 2 * n,
    offline: 3 * n,
    queuedWhileOffline: 10 * n,
    planned: { reboots: 2 * n, offline: n },
  });
  const merged = mergeResults(
    shards.map((shard, i) => (i === 2 ? shard : { ...shard, results: { ...shard.results, lifecycle: lifecycle(i + 1) } })),
    { version: 'test' },
  );
  assert.deepEqual(merged.lifecycle, { sleeps: 3, wakes: 5, reboots: 6, offline: 9, queuedWhileOffline: 30, planned: { reboots: 6, offline: 3 } });
  assert.equal(mergeResults(shards, { version: 'test' }).lifecycle, undefined);
});
