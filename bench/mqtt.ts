import { spawn } from 'node:child_process';
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { connect } from 'node:net';
import { tmpdir } from 'node:os';
import path from 'node:path';
import type { Results } from '../src/metrics/results.ts';
import { freePort, pinned, pinning, run, runLocust, table } from './run-pinned.ts';
import type { Measured } from './run-pinned.ts';

/**
 * QoS 1 throughput against a real Mosquitto (with set_tcp_nodelay true), fleetsim's lamp-flat-out
 * side by side with plain mqtt.js loops, all in this one run: `npm run bench:mqtt [devices] [seconds]`.
 */
const devices = Number(process.argv[2] ?? 100);
const seconds = Number(process.argv[3] ?? 10);
const dir = await mkdtemp(path.join(tmpdir(), 'fleetsim-bench-'));
const port = await freePort();
await writeFile(
  path.join(dir, 'mosquitto.conf'),
  `listener ${port} 127.0.0.1\nallow_anonymous true\nset_tcp_nodelay true\npersistence false\nmax_inflight_messages 0\nmax_queued_messages 0\n${process.getuid?.() === 0 ? 'user root\n' : ''}`,
);
const [file, argv] = pinned(1, 'mosquitto', ['-c', path.join(dir, 'mosquitto.conf')]);
const broker = spawn(file, argv, { stdio: 'ignore' });
const url = `mqtt://127.0.0.1:${port}`;

async function brokerUp(): Promise<void> {
  const deadline = Date.now() + 5000;
  for (;;) {
    const ok = await new Promise<boolean>((resolve) => {
      const socket = connect(port, '127.0.0.1', () => {
        socket.destroy();
        resolve(true);
      }).on('error', () => resolve(false));
    });
    if (ok) return;
    if (Date.now() > deadline) throw new Error('mosquitto did not start (is it installed? apt-get install mosquitto)');
    await new Promise((resolve) => setTimeout(resolve, 50));
  }
}

async function plainLoop(mode: string): Promise<Measured> {
  const out = JSON.parse(await run(0, process.execPath, ['--import', 'tsx', 'bench/peers/mqtt-loop.ts', url, String(devices), String(seconds), mode])) as Omit<Measured, 'tool'>;
  return { tool: `mqtt.js loop, ${mode}`, ...out };
}

async function fleetsim(): Promise<Measured> {
  const json = path.join(dir, 'fleetsim.json');
  await run(0, process.execPath, ['--import', 'tsx', 'src/cli/bin.ts', 'run', 'profiles/lamp-flat-out.yaml', '-u', String(devices), '-r', String(devices * 10), '-t', `${seconds}s`, '--broker', url, '--json', json, '--quiet']);
  const results = JSON.parse(await readFile(json, 'utf8')) as Results;
  const publish = results.stats.find((row) => row.type === 'PUBLISH');
  if (!publish || publish.failures > 0) throw new Error(`fleetsim had failures: ${JSON.stringify(results.failures)}`);
  return {
    tool: 'fleetsim lamp-flat-out (bursts of 10)',
    messages: publish.requests,
    seconds: results.activeS,
    cpuSeconds: ((results.generator.processCpuPercent ?? results.generator.cpuPercent) / 100) * results.durationS,
    maxRssBytes: results.generator.maxRssBytes,
  };
}

try {
  await brokerUp();
  const rows = [await fleetsim(), await plainLoop('burst-10'), await plainLoop('await-each')];
  const locust = await runLocust('bench/locust/lamp.py', url, devices, seconds, dir);
  if (locust) rows.push({ tool: 'Locust + paho lamp (bursts of 10)', ...locust });
  else console.log('Locust not found (apt-get install python3-locust python3-paho-mqtt): its row is left out.');
  console.log(`MQTT QoS 1, ${devices} clients for ${seconds} s against Mosquitto (set_tcp_nodelay true); ${pinning ? 'generator on core 0, broker on core 1' : 'NOT pinned (no taskset or one core): numbers are noisier'}.`);
  console.log(table(rows, 'msg'));
} finally {
  broker.kill('SIGTERM');
  await rm(dir, { recursive: true, force: true });
}
