import { spawn } from 'node:child_process';
import { mkdtemp, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import type { Results } from '../src/metrics/results.ts';
import { freePort, pinned, pinning, run, runLocust, table } from './run-pinned.ts';
import type { Measured } from './run-pinned.ts';

/**
 * HTTP throughput against the standalone fixture, fleetsim's iot-node-flat-out side by side with
 * autocannon and a plain undici Pool loop, all in this one run: `npm run bench:http [devices] [seconds]`.
 */
const devices = Number(process.argv[2] ?? 200);
const seconds = Number(process.argv[3] ?? 10);
const dir = await mkdtemp(path.join(tmpdir(), 'fleetsim-bench-'));
const port = await freePort();
const origin = `http://127.0.0.1:${port}`;
const [file, argv] = pinned(1, process.execPath, ['--import', 'tsx', 'src/cli/bin.ts', 'fixture', '--http-port', String(port), '--mqtt-port', '0']);
const fixture = spawn(file, argv, { stdio: ['ignore', 'ignore', 'pipe'] });

async function fixtureUp(): Promise<void> {
  let stderr = '';
  await new Promise<void>((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`the fixture did not start: ${stderr}`)), 20_000);
    fixture.stderr.setEncoding('utf8').on('data', (chunk: string) => {
      stderr += chunk;
      if (stderr.includes('HTTP fixture listening')) {
        clearTimeout(timer);
        resolve();
      }
    });
  });
}

async function peer(tool: string, script: string): Promise<Measured> {
  const out = JSON.parse(await run(0, process.execPath, ['--import', 'tsx', script, origin, String(devices), String(seconds)])) as Omit<Measured, 'tool'>;
  return { tool, ...out };
}

async function fleetsim(): Promise<Measured> {
  const json = path.join(dir, 'fleetsim.json');
  await run(0, process.execPath, ['--import', 'tsx', 'src/cli/bin.ts', 'run', 'profiles/iot-node-flat-out.yaml', '-u', String(devices), '-r', String(devices * 10), '-t', `${seconds}s`, '--target', origin, '--json', json, '--quiet']);
  const results = JSON.parse(await readFile(json, 'utf8')) as Results;
  if (results.total.failures > 0) throw new Error(`fleetsim had failures: ${JSON.stringify(results.failures)}`);
  return {
    tool: 'fleetsim iot-node-flat-out',
    messages: results.total.requests,
    seconds: results.activeS,
    cpuSeconds: ((results.generator.processCpuPercent ?? results.generator.cpuPercent) / 100) * results.durationS,
    maxRssBytes: results.generator.maxRssBytes,
  };
}

try {
  await fixtureUp();
  const rows = [await fleetsim(), await peer('autocannon (POST /data)', 'bench/peers/autocannon-run.ts'), await peer('undici Pool loop (POST /data)', 'bench/peers/undici-loop.ts')];
  const locust = await runLocust('bench/locust/iot_node.py', origin, devices, seconds, dir);
  if (locust) rows.push({ tool: 'Locust FastHttpUser iot-node', ...locust });
  else console.log('Locust not found (apt-get install python3-locust): its row is left out.');
  console.log(`HTTP, ${devices} devices/connections for ${seconds} s against the standalone fixture; ${pinning ? 'generator on core 0, fixture on core 1' : 'NOT pinned (no taskset or one core): numbers are noisier'}.`);
  console.log('fleetsim and Locust mix POST /data, POST /health and GET /ota 10:1:1; autocannon and undici send POST /data only.');
  console.log(table(rows, 'req'));
} finally {
  fixture.kill('SIGINT');
  await rm(dir, { recursive: true, force: true });
}
