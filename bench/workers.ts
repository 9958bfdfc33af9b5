import { mkdtemp, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import type { Results } from '../src/metrics/results.ts';
import { compiledCli, fleet, pinningNote, run } from './run-pinned.ts';
import { startFixture } from './targets.ts';

/**
 * Does `--workers 2` cost throughput against the same run as two shards launched by hand?
 * `npm run bench:workers [devices] [seconds] [rounds]` runs iot-node-flat-out against the fixture
 * (on its own core), each round both ways on the generator's core: two `--shard i/2` processes
 * started together, then one `--workers 2` run; it prints the merged req/s against the sum of the
 * two shards' req/s, per round. The goal is at least 0.9×.
 */
const devices = Number(process.argv[2] ?? 200);
const seconds = Number(process.argv[3] ?? 10);
const rounds = Number(process.argv[4] ?? 3);
const dir = await mkdtemp(path.join(tmpdir(), 'fleetsim-workers-'));
const cli = await compiledCli();
const target = await startFixture();
const read = async (file: string): Promise<Results> => JSON.parse(await readFile(file, 'utf8')) as Results;
console.log(`bench:workers: ${devices} iot-node-flat-out devices for ${seconds} s, ${rounds} rounds (${pinningNote('fixture')})`);
try {
  const ratios: number[] = [];
  for (let round = 1; round <= rounds; round++) {
    const args = fleet('profiles/iot-node-flat-out.yaml', devices, devices, seconds, '--target', target.url, '--seed', '1', '--quiet');
    const shardFiles = [0, 1].map((i) => path.join(dir, `r${round}-shard${i}.json`));
    await Promise.all(shardFiles.map((json, i) => run(0, process.execPath, [cli, 'run', ...args, '--shard', `${i}/2`, '--json', json])));
    const shards = await Promise.all(shardFiles.map(read));
    const separate = shards.reduce((sum, results) => sum + results.total.rps, 0);
    const workersFile = path.join(dir, `r${round}-workers.json`);
    await run(0, process.execPath, [cli, 'run', ...args, '--workers', '2', '--json', workersFile]);
    const workers = await read(workersFile);
    const ratio = workers.total.rps / separate;
    ratios.push(ratio);
    const failures = workers.total.failures + shards.reduce((sum, results) => sum + results.total.failures, 0);
    console.log(`  round ${round}: --workers 2 ${workers.total.rps.toFixed(0)} req/s, two shards ${separate.toFixed(0)} req/s (${shards.map((r) => r.total.rps.toFixed(0)).join(' + ')}): ${ratio.toFixed(2)}×${failures > 0 ? `, ${failures} failures` : ''}`);
  }
  const sorted = [...ratios].sort((a, b) => a - b);
  const middle = sorted.length / 2;
  const median = sorted.length % 2 === 1 ? (sorted[Math.floor(middle)] ?? 0) : ((sorted[middle - 1] ?? 0) + (sorted[middle] ?? 0)) / 2;
  console.log(`  median ${median.toFixed(2)}× (goal ≥ 0.90×); rates on a shared machine swing widely, so read the rounds`);
} finally {
  target.stop();
  await rm(dir, { recursive: true, force: true });
}
