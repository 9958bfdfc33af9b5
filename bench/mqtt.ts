import { spawnSync } from 'node:child_process';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { fleet, locustInstalled, measureRounds, pinningNote, run, runFleetsimMeasured, runLocust } from './run-pinned.ts';
import type { Measured } from './run-pinned.ts';
import { flatOutPairing, publishRate, sideBySide } from './side-by-side.ts';
import { startMosquitto, startWsGateway } from './targets.ts';

// The Locust row's lamps speak MQTT through paho, imported by Locust's own Python.
const pahoInstalled = locustInstalled && spawnSync('/usr/bin/python3', ['-c', 'import paho.mqtt.client']).status === 0;

/**
 * QoS 1 throughput against a real Mosquitto (with set_tcp_nodelay true), fleetsim's lamp-flat-out
 * side by side with plain mqtt.js loops and Locust, all in this one run:
 * `npm run bench:mqtt [devices] [seconds] [rounds]`: 3 rounds by default, reported as medians and ranges.
 */
const devices = Number(process.argv[2] ?? 100);
const seconds = Number(process.argv[3] ?? 10);
const rounds = Number(process.argv[4] ?? 3);
const dir = await mkdtemp(path.join(tmpdir(), 'fleetsim-bench-'));
const broker = await startMosquitto(dir);
const gateway = await startWsGateway(broker);

async function plainLoop(mode: string): Promise<Measured> {
  const out = JSON.parse(await run(0, process.execPath, ['--import', 'tsx', 'bench/peers/mqtt-loop.ts', broker.url, String(devices), String(seconds), mode])) as Omit<Measured, 'tool'>;
  return { tool: `mqtt.js loop, ${mode}`, ...out };
}

async function fleetsim(url = broker.url): Promise<Measured> {
  const ws = url.startsWith('ws:');
  const { results, cpuSeconds, maxRssBytes } = await runFleetsimMeasured(dir, ws ? 'ws' : 'fleetsim', fleet('profiles/lamp-flat-out.yaml', devices, devices * 10, seconds, '--broker', url));
  const tool = ws ? 'fleetsim over ws:// (a ws-to-TCP gateway on the broker core)' : 'fleetsim lamp-flat-out (bursts of 10)';
  return { tool, messages: publishRate(results) * results.activeS, seconds: results.activeS, cpuSeconds, maxRssBytes };
}

/** Sparkplug DDATA (protobuf) against the same QoS 0 load as plain JSON: what the encoding costs per message. */
async function encoding(kind: 'sparkplug' | 'json'): Promise<Measured> {
  const profile = kind === 'sparkplug' ? 'bench/profiles/sparkplug-flat-out.yaml' : 'bench/profiles/json-qos0-flat-out.yaml';
  const { results, cpuSeconds, maxRssBytes } = await runFleetsimMeasured(dir, kind, fleet(profile, devices, devices * 10, seconds, '--broker', broker.url));
  const tool = kind === 'sparkplug' ? 'fleetsim Sparkplug DDATA, QoS 0 (protobuf, 10 devices/node)' : 'fleetsim plain JSON, QoS 0 (same values)';
  // Every PUBLISH row (the births as well as the data): the aggregate of the type.
  const publish = results.types.find((row) => row.type === 'PUBLISH');
  if (!publish || publish.failures > 0) throw new Error(`fleetsim had failures: ${JSON.stringify(results.failures)}`);
  return { tool, messages: publish.requests, seconds: results.activeS, cpuSeconds, maxRssBytes };
}

try {
  const report = await measureRounds(
    broker,
    rounds,
    [
      () => fleetsim(),
      () => fleetsim(gateway.url),
      () => plainLoop('burst-10'),
      () => plainLoop('await-each'),
      () => (pahoInstalled ? runLocust('Locust + paho lamp (bursts of 10)', 'bench/locust/lamp.py', broker.url, devices, seconds, dir) : Promise.resolve(undefined)),
      () => encoding('sparkplug'),
      () => encoding('json'),
    ],
    'msg',
  );
  if (!pahoInstalled) console.log('Locust or paho not found (apt-get install python3-locust python3-paho-mqtt): their row is left out.');
  console.log(`MQTT QoS 1, ${devices} clients for ${seconds} s against Mosquitto (set_tcp_nodelay true); ${pinningNote('broker')}.`);
  console.log(report);
  console.log(await sideBySide(broker, dir, Math.max(5, rounds), flatOutPairing('profiles/lamp-flat-out.yaml', true, devices, seconds, broker.url)));
} finally {
  gateway.stop();
  broker.stop();
  await rm(dir, { recursive: true, force: true });
}
