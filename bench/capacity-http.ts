import { execFile } from 'node:child_process';
import { existsSync } from 'node:fs';
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { promisify } from 'node:util';
import type { CapacityReport } from '../src/cli/capacity-command.ts';
import { startChildServer } from '../test/helpers/child-server.ts';

/**
 * `npm run bench:capacity-http [rounds]`: fleetsim's capacity search against a server of known
 * capacity (one request at a time, 5 ms each: 200 req/s, test/helpers/serial-server.ts), beside
 * wrk's reading of the same server in the same round. Prints each round's capacity, wrk's rate, and
 * their ratio, then the medians. wrk's own reading moves with the machine's load, so this is a
 * benchmark; test/integration/capacity-http.test.ts holds the search to the server's known rate.
 */
const rounds = Number(process.argv[2] ?? 3);
const run = promisify(execFile);
const DEVICE = `kind: device
name: poster
tasks:
  - name: /data
    http: { method: POST, path: /data, json: { temperature: "{{ int(1, 40) }}", humidity: "{{ int(1, 99) }}" } }
wait: { model: constant, time: 1s }
`;
if (!existsSync('/usr/bin/wrk')) {
  console.log('bench:capacity-http: wrk is not installed (apt-get install wrk)');
  process.exit(0);
}
const dir = await mkdtemp(path.join(tmpdir(), 'fleetsim-bench-capacity-'));
const server = await startChildServer('test/helpers/serial-server.ts');
const median = (values: readonly number[]): number => [...values].sort((a, b) => a - b)[Math.floor(values.length / 2)] ?? NaN;
try {
  await writeFile(path.join(dir, 'poster.device.yaml'), DEVICE);
  const profile = path.join(dir, 'poster.yaml');
  await writeFile(profile, `kind: profile\nname: poster\nseed: 7\nfleet:\n  - device: poster.device.yaml\n    count: 10\nspawnRate: 400\nduration: 10s\nhttp: { connections: 500 }\n`);
  const found: number[] = [];
  const wrkRates: number[] = [];
  const ratios: number[] = [];
  for (let round = 1; round <= rounds; round++) {
    const { stdout: wrkOut } = await run('/usr/bin/wrk', ['-t1', '-c8', '-d4s', `${server.url}/health`]);
    const wrkRate = Number(/Requests\/sec:\s+([\d.]+)/.exec(wrkOut)?.[1]);
    const json = path.join(dir, `capacity-${round}.json`);
    await run(
      process.execPath,
      [
        '--import',
        'tsx',
        'src/cli/bin.ts',
        'capacity',
        profile,
        '--target',
        server.url,
        '--slo',
        'p95 < 500ms',
        '--start',
        '120',
        '--step',
        '40',
        '--max-devices',
        '400',
        '--step-duration',
        '4s',
        '--settle',
        '2s',
        '--refine',
        '--json',
        json,
        '--quiet',
      ],
      { maxBuffer: 1 << 24 },
    );
    const report = JSON.parse(await readFile(json, 'utf8')) as CapacityReport;
    const rps = report.capacity?.rps ?? 0;
    found.push(rps);
    wrkRates.push(wrkRate);
    ratios.push(rps / wrkRate);
    console.log(
      `round ${round}: capacity ${rps.toFixed(1)} req/s at ${report.capacity?.devices ?? 0} devices (limited by ${report.limitedBy}), ${(rps / 200).toFixed(2)}x the server's 200 req/s; wrk ${wrkRate.toFixed(1)} req/s; capacity/wrk ${(rps / wrkRate).toFixed(2)}`,
    );
  }
  console.log(
    `medians over ${rounds} rounds: capacity ${median(found).toFixed(1)} req/s, wrk ${median(wrkRates).toFixed(1)} req/s, capacity/wrk ${median(ratios).toFixed(2)} (range ${Math.min(...ratios).toFixed(2)}-${Math.max(...ratios).toFixed(2)})`,
  );
} finally {
  await server.stop();
  await rm(dir, { recursive: true, force: true });
}
