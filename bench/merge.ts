import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { execute } from '../src/cli/main.ts';
import { evaluateThresholds } from '../src/metrics/evaluate-thresholds.ts';
import { buildResults } from '../src/metrics/results.ts';
import type { Results } from '../src/metrics/results.ts';
import { RunStats } from '../src/metrics/stats.ts';
import { seededSamples } from '../test/helpers/samples.ts';

/**
 * How long `fleetsim merge` takes on a large sharded run: `npm run bench:merge [shards] [rows]
 * [seconds] [runs]` writes that many shard results (default 100 shards of 50 rows, 30 s of history each,
 * built through the same RunStats and buildResults a run uses; building them is slow, so a few
 * distinct ones are written under every shard index), then times the whole command in
 * this process: reading, parsing, merging and writing the merged JSON. The peer is reading and
 * parsing the same files alone, the floor any merge pays, measured before each of the `runs`
 * (default 3) so both see the machine alike. The budget is 2 s, for the median run.
 */
const shards = Number(process.argv[2] ?? 100);
const rowCount = Number(process.argv[3] ?? 50);
const seconds = Number(process.argv[4] ?? 30);
const runs = Number(process.argv[5] ?? 3);
const DISTINCT = 4;
const SAMPLES_PER_ROW_SECOND = 20;
const START = Date.parse('2026-05-01T12:00:00Z');

function shardResults(index: number): Results {
  const random = seededSamples(index % DISTINCT);
  const stats = new RunStats();
  const entries = Array.from({ length: rowCount }, (_, r) => stats.entryFor(r % 5 === 0 ? 'GET' : 'POST', `/route/${r}`));
  for (let s = 0; s < seconds; s++) {
    entries.forEach((entry, r) => {
      for (let i = 0; i < SAMPLES_PER_ROW_SECOND; i++) entry.record(i === 7 && r % 9 === 0 ? 'failure' : 'ok', i === 7 ? 'HTTP 503' : undefined, random(r % 4), -1, 120, false);
    });
    stats.snapshot((s + 1) * 1000, 100, 100, { busyPercent: 20, lagP99Ms: 2 });
  }
  const history = stats.history.points.map((point, s) => ({ ...point, timestamp: START + (s + 1) * 1000 }));
  const partial = buildResults({
    version: 'bench',
    seed: '42',
    profilePath: 'profiles/iot-node.yaml',
    profileSha256: 'f'.repeat(64),
    startedAt: new Date(START),
    endedAt: new Date(START + seconds * 1000),
    stopReason: 'duration',
    shard: { index, count: shards },
    devices: { target: 100, started: 100, online: 100, timeToAllOnlineMs: 500 },
    entries: stats.entries,
    history,
    saturation: stats.saturation,
    generator: { cpuPercent: 30 + (index % 10), maxRssBytes: 2e8, eventLoopLagP99Ms: 3 },
    warnings: [],
  });
  return { ...partial, thresholds: evaluateThresholds(partial, ['p95 < 50ms', 'failure_rate < 1%']) };
}

const dir = process.env.MERGE_BENCH_DIR ?? (await mkdtemp(path.join(tmpdir(), 'fleetsim-merge-')));
try {
  const files: string[] = [];
  const generating = performance.now();
  const distinct = Array.from({ length: Math.min(DISTINCT, shards) }, (_, i) => shardResults(i));
  for (let i = 0; i < shards; i++) {
    const file = path.join(dir, `shard-${i}.json`);
    const body = distinct[i % distinct.length] as Results;
    await writeFile(file, JSON.stringify({ ...body, shard: { index: i, count: shards }, history: body.history.map((point) => ({ ...point, timestamp: point.timestamp + (i % 7) * 13 })) }));
    files.push(file);
  }
  const sizeMb = (await Promise.all(files.map((file) => readFile(file)))).reduce((sum, bytes) => sum + bytes.length, 0) / 1048576;
  console.log(
    `bench:merge: ${shards} shard results of ${rowCount} rows and ${seconds} s of history each (${sizeMb.toFixed(1)} MB), written in ${((performance.now() - generating) / 1000).toFixed(1)} s`,
  );

  const out = path.join(dir, 'merged.json');
  const timed: { parseMs: number; mergeMs: number; cpuMs: number }[] = [];
  for (let run = 1; run <= runs; run++) {
    const parseStart = performance.now();
    for (const file of files) JSON.parse(await readFile(file, 'utf8'));
    const parseMs = performance.now() - parseStart;
    let stderr = '';
    const mergeStart = performance.now();
    const cpuStart = process.cpuUsage();
    const code = await execute(['merge', ...files, '--json', out, '--quiet'], { stdout: () => undefined, stderr: (text) => (stderr += text) });
    const mergeMs = performance.now() - mergeStart;
    const cpu = process.cpuUsage(cpuStart);
    // On a shared machine the wall time includes waiting for a core; the CPU time does not.
    const cpuMs = (cpu.user + cpu.system) / 1000;
    if (code !== 0 && code !== 99) throw new Error(`merge exited ${code}: ${stderr}`);
    timed.push({ parseMs, mergeMs, cpuMs });
    console.log(
      `  run ${run}: read + parse only (the floor) ${parseMs.toFixed(0)} ms; fleetsim merge --json ${mergeMs.toFixed(0)} ms (${(mergeMs / parseMs).toFixed(1)}x the floor), ${cpuMs.toFixed(0)} ms of CPU (GC threads included)`,
    );
  }
  const merged = JSON.parse(await readFile(out, 'utf8')) as Results;
  if (merged.total.requests !== shards * rowCount * seconds * SAMPLES_PER_ROW_SECOND) throw new Error(`merged ${merged.total.requests} requests`);
  const median = (pick: (run: (typeof timed)[number]) => number): number => [...timed.map(pick)].sort((a, b) => a - b)[Math.floor((timed.length - 1) / 2)] ?? Number.NaN;
  const mergeMs = median((run) => run.mergeMs);
  console.log(
    `  median of ${runs}: merge ${mergeMs.toFixed(0)} ms (budget 2000 ms: ${mergeMs < 2000 ? 'ok' : 'OVER'}), ${median((run) => run.cpuMs).toFixed(0)} ms of CPU, floor ${median((run) => run.parseMs).toFixed(0)} ms`,
  );
  console.log(
    `  merged: ${merged.total.requests} requests, ${merged.stats.length} rows, ${merged.history.length} history points, p99 ${merged.total.latencyMs.p99} ms, max ${merged.total.latencyMs.max} ms`,
  );
  if (mergeMs >= 2000) process.exitCode = 1;
} finally {
  if (process.env.MERGE_BENCH_DIR === undefined) await rm(dir, { recursive: true, force: true });
}
