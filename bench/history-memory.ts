import { spawn } from 'node:child_process';
import { mkdtemp, readFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import type { Results } from '../src/metrics/results.ts';
import { followGcTrace, rssMb } from './process-memory.ts';
import { compiledCli, fleet, pinned, pinningNote } from './run-pinned.ts';
import { nginxInstalled, startFixture, startNginx } from './targets.ts';

/**
 * Does a long run's memory stay flat while it keeps its history? `npm run bench:history [minutes]`
 * runs 1,000 iot-nodes (5 s pacing, ~200 req/s) for 30 minutes by default against nginx (or the
 * fixture without it), samples the generator's RSS every 5 s, and compares the end with the
 * 2-minute mark.
 */
const minutes = Number(process.argv[2] ?? 30);
const devices = 1000;
const dir = await mkdtemp(path.join(tmpdir(), 'fleetsim-history-'));
const target = nginxInstalled ? await startNginx(dir) : await startFixture();
const json = path.join(dir, 'history.json');
// --trace-gc prints the heap left after every full collection: what the process really retains,
// which RSS (young-generation growth, allocator slack) only bounds from above.
// BENCH_NODE_FLAGS adds V8 flags to the generator (e.g. --max-semi-space-size=2) to see what RSS is made of.
const nodeFlags = (process.env.BENCH_NODE_FLAGS ?? '').split(' ').filter(Boolean);
const [file, argv] = pinned(0, process.execPath, [
  '--trace-gc',
  ...nodeFlags,
  await compiledCli(),
  'run',
  ...fleet('profiles/iot-node.yaml', devices, 100, minutes * 60, '--target', target.url, '--json', json, '--quiet'),
]);
console.log(
  `bench:history: ${devices} iot-nodes for ${minutes} min against ${nginxInstalled ? 'nginx' : 'the fixture'} (${pinningNote()})${nodeFlags.length > 0 ? `, node ${nodeFlags.join(' ')}` : ''}`,
);

const child = spawn(file, argv, { stdio: ['ignore', 'pipe', 'inherit'] });
const heapAfterFullGc: { atS: number; mb: number }[] = [];
followGcTrace(child.stdout, (gc) => heapAfterFullGc.push({ atS: gc.atMs / 1000, mb: gc.liveMb }));
const samples: { atS: number; mb: number }[] = [];
const started = Date.now();
const sampler = setInterval(() => {
  const mb = child.pid === undefined ? undefined : rssMb(child.pid);
  if (mb !== undefined) samples.push({ atS: (Date.now() - started) / 1000, mb });
}, 5000);
const code = await new Promise<number | null>((resolve) => child.on('close', resolve));
clearInterval(sampler);
target.stop();
if (code !== 0) throw new Error(`fleetsim exited ${code}`);

const results = JSON.parse(await readFile(json, 'utf8')) as Results;
// One RSS sample swings with each collection, so the baseline is the median of minute 2-3 and
// the end the median of the last minute.
const median = (values: number[]): number => [...values].sort((a, b) => a - b)[Math.floor((values.length - 1) / 2)] ?? Number.NaN;
const afterWarmUp = samples.filter((sample) => sample.atS >= 120);
const atTwoMinutes = median(samples.filter((sample) => sample.atS >= 120 && sample.atS < 180).map((sample) => sample.mb));
const peak = Math.max(...afterWarmUp.map((sample) => sample.mb));
const endAt = (samples.at(-1)?.atS ?? 0) - 60;
const last = median(samples.filter((sample) => sample.atS >= endAt).map((sample) => sample.mb));
for (const minute of [1, 2, 5, 10, 15, 20, 25, 30, 45, 60]) {
  const sample = samples.find((candidate) => candidate.atS >= minute * 60);
  if (sample) console.log(`  RSS at ${String(minute).padStart(2)} min: ${sample.mb.toFixed(1)} MB`);
}
for (const sample of heapAfterFullGc) console.log(`  live heap after a full GC at ${(sample.atS / 60).toFixed(1)} min: ${sample.mb.toFixed(1)} MB`);
console.log(
  `  RSS over minute 2-3 (median) ${atTwoMinutes.toFixed(1)} MB; over the last minute ${last.toFixed(1)} MB (${last >= atTwoMinutes ? '+' : ''}${(((last - atTwoMinutes) / atTwoMinutes) * 100).toFixed(1)}%; target: within +10%); peak ${peak.toFixed(1)} MB`,
);
console.log(
  `  ${results.total.requests} requests, ${results.total.failures} failures; history: ${results.history.length} points (${results.history.filter((point) => point.folded > 1).length} folded), results JSON ${(Buffer.byteLength(JSON.stringify(results)) / 1048576).toFixed(1)} MB`,
);
