import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import type { Results } from '../src/metrics/results.ts';
import { pinningNote, run, runFleetsim } from './run-pinned.ts';
import { startMosquitto } from './targets.ts';
import type { Target } from './targets.ts';

/**
 * Connect storms: CONNECT/CONNACK per second and per CPU second from one generator process on core
 * 0 against Mosquitto on core 1, fleetsim beside a plain mqtt.js connect loop in the same round, at
 * each offered rate: `npm run bench:connect [devices] [rounds] [rates] [tls]`, by default 10,000
 * idle lamps (keepalive 60 s) connected at 1k, 5k and 10k/s, 3 rounds. `tls` puts both on
 * mqtts:// (a throwaway CA and a listener with its certificate).
 */
const devices = Number(process.argv[2] ?? 10_000);
const rounds = Number(process.argv[3] ?? 3);
const rates = (process.argv[4] ?? '1000,5000,10000').split(',').map(Number);
const tls = process.argv[5] === 'tls';
const dir = await mkdtemp(path.join(tmpdir(), 'fleetsim-connect-'));

/** What one tool's storm measured. */
interface Storm {
  /** Clients online at the end (all of them, unless the storm's time ran out). */
  readonly connects: number;
  readonly failures: number;
  /** From the first connect started to the last CONNACK (fleetsim: to all devices online). */
  readonly seconds: number;
  /** Main-thread CPU over those seconds (fleetsim: the whole seconds of its history they span). */
  readonly cpuSeconds: number;
  readonly p50Ms: number | null;
  readonly p99Ms: number | null;
  /** The broker's share of its core over the tool's whole run (start-up to exit). */
  brokerCorePercent?: number;
}

/** Runs one tool's storm and adds how busy the broker was meanwhile. */
async function measured(broker: Target, storm: () => Promise<Storm>): Promise<Storm> {
  const before = broker.cpuSeconds();
  const started = performance.now();
  const result = await storm();
  result.brokerCorePercent = ((broker.cpuSeconds() - before) / ((performance.now() - started) / 1000)) * 100;
  return result;
}

const achieved = (storm: Storm): number => storm.connects / storm.seconds;
const complete = (storm: Storm): string => (storm.connects < devices ? ` (${storm.connects} of ${devices} online)` : '');
const perCpuSecond = (storm: Storm): number => storm.connects / storm.cpuSeconds;

async function profile(rate: number, ca: string | undefined): Promise<string> {
  const file = path.join(dir, `storm-${rate}.yaml`);
  const model = path.resolve('bench/devices/idle-mqtt.yaml');
  // The run lasts the ramp and 15 s more: time for SYNs the broker's accept queue dropped to be sent again.
  const seconds = Math.ceil(devices / rate) + 15;
  await writeFile(
    file,
    `kind: profile\nname: connect-storm-${rate}\nseed: 1\nfleet:\n  - device: ${model}\n    count: ${devices}\nspawnRate: ${rate}\nduration: ${seconds}s\n${ca ? `mqtt:\n  tls: { ca: ${ca} }\n` : ''}`,
  );
  return file;
}

/** Main-thread CPU seconds of the history's intervals up to the one in which all were online. */
function cpuUntilOnline(results: Results, onlineS: number): number {
  let seconds = 0;
  for (const point of results.history) {
    if (point.atS - point.intervalS >= onlineS) break;
    seconds += ((point.generator.cpuPercent ?? 0) / 100) * point.intervalS;
  }
  return seconds;
}

async function fleetsim(broker: Target, rate: number, ca: string | undefined): Promise<Storm> {
  const results = await runFleetsim(dir, `fleetsim-${rate}`, [await profile(rate, ca), '--broker', broker.url]);
  const connect = results.types.find((row) => row.type === 'CONNECT');
  const onlineMs = results.devices.timeToAllOnlineMs;
  const cpu = (onlineS: number): number => cpuUntilOnline(results, onlineS);
  const latency = { p50Ms: connect?.latencyMs.p50 ?? null, p99Ms: connect?.latencyMs.p99 ?? null };
  // Not all online by the end: what did connect, over the whole run.
  if (onlineMs === null || onlineMs === undefined)
    return { connects: results.devices.online, failures: connect?.failures ?? 0, seconds: results.activeS, cpuSeconds: cpu(results.activeS), ...latency };
  const onlineS = onlineMs / 1000;
  return { connects: devices, failures: connect?.failures ?? 0, seconds: onlineS, cpuSeconds: cpu(onlineS), ...latency };
}

async function mqttJs(broker: Target, rate: number, ca: string | undefined): Promise<Storm> {
  const out = await run(0, process.execPath, ['--import', 'tsx', 'bench/peers/mqtt-connect-loop.ts', broker.url, String(devices), String(rate), ...(ca ? [ca] : [])]);
  return JSON.parse(out) as Storm;
}

function median(values: readonly number[]): number {
  const sorted = [...values].sort((a, b) => a - b);
  return sorted[Math.floor((sorted.length - 1) / 2)] ?? Number.NaN;
}

const range = (values: readonly number[], digits: number): string => `${Math.min(...values).toFixed(digits)}–${Math.max(...values).toFixed(digits)}`;

function aligned(lines: readonly (readonly string[])[]): string {
  const widths = (lines[0] ?? []).map((_, i) => Math.max(...lines.map((line) => (line[i] ?? '').length)));
  return lines.map((line) => line.map((cell, i) => (i === 0 ? cell.padEnd(widths[i] ?? 0) : cell.padStart(widths[i] ?? 0))).join('  ')).join('\n');
}

/** Per offered rate and tool: medians over the rounds, and fleetsim's ratios taken within each round. */
function report(runs: ReadonlyMap<number, { fleetsim: Storm; mqttjs: Storm }[]>): string {
  const lines = [
    ['offered/s', 'tool', 'CONNACK/s', 'range', 'per CPU s', 'CPU s per 1k', 'p50 ms', 'p99 ms', 'broker core %', 'fleetsim ÷ mqtt.js per CPU s', 'range', 'CONNACK/s ratio', 'incomplete runs'],
  ];
  for (const [rate, pairs] of runs) {
    for (const tool of ['fleetsim', 'mqttjs'] as const) {
      const storms = pairs.map((pair) => pair[tool]);
      const ratios = pairs.map((pair) => perCpuSecond(pair.fleetsim) / perCpuSecond(pair.mqttjs));
      const rateRatios = pairs.map((pair) => achieved(pair.fleetsim) / achieved(pair.mqttjs));
      lines.push([
        String(rate),
        tool === 'fleetsim' ? 'fleetsim' : 'mqtt.js loop',
        median(storms.map(achieved)).toFixed(0),
        range(storms.map(achieved), 0),
        median(storms.map(perCpuSecond)).toFixed(0),
        median(storms.map((storm) => (storm.cpuSeconds / storm.connects) * 1000)).toFixed(3),
        median(storms.map((storm) => storm.p50Ms ?? Number.NaN)).toFixed(2),
        median(storms.map((storm) => storm.p99Ms ?? Number.NaN)).toFixed(2),
        median(storms.map((storm) => storm.brokerCorePercent ?? Number.NaN)).toFixed(0),
        tool === 'fleetsim' ? median(ratios).toFixed(2) : '',
        tool === 'fleetsim' ? range(ratios, 2) : '',
        tool === 'fleetsim' ? median(rateRatios).toFixed(2) : '',
        String(storms.filter((storm) => storm.connects < devices).length),
      ]);
    }
  }
  return aligned(lines);
}

/** A throwaway CA and a server certificate for 127.0.0.1, for the TLS storm. */
async function certificates(): Promise<{ ca: string; cert: string; key: string }> {
  const file = (name: string): string => path.join(dir, name);
  const openssl = (...args: string[]): Promise<string> => run(1, 'openssl', args);
  await openssl('req', '-x509', '-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:prime256v1', '-nodes', '-keyout', file('ca.key'), '-out', file('ca.pem'), '-days', '1', '-subj', '/CN=bench-ca');
  await openssl('req', '-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:prime256v1', '-nodes', '-keyout', file('server.key'), '-out', file('server.csr'), '-subj', '/CN=127.0.0.1');
  await writeFile(file('san.ext'), 'subjectAltName=IP:127.0.0.1\n');
  await openssl('x509', '-req', '-in', file('server.csr'), '-CA', file('ca.pem'), '-CAkey', file('ca.key'), '-CAcreateserial', '-out', file('server.pem'), '-days', '1', '-extfile', file('san.ext'));
  return { ca: file('ca.pem'), cert: file('server.pem'), key: file('server.key') };
}

const certs = tls ? await certificates() : undefined;
const broker = await startMosquitto(dir, certs ? { tls: certs } : {});
try {
  const runs = new Map<number, { fleetsim: Storm; mqttjs: Storm }[]>(rates.map((rate) => [rate, []]));
  for (let round = 0; round < rounds; round++) {
    for (const rate of rates) {
      // The order turns each round, so neither tool always runs on the warmer broker.
      const first = round % 2 === 0;
      const runFleetsimStorm = (): Promise<Storm> => measured(broker, () => fleetsim(broker, rate, certs?.ca));
      const runMqttJs = (): Promise<Storm> => measured(broker, () => mqttJs(broker, rate, certs?.ca));
      const a = first ? await runFleetsimStorm() : await runMqttJs();
      const b = first ? await runMqttJs() : await runFleetsimStorm();
      const pair = first ? { fleetsim: a, mqttjs: b } : { fleetsim: b, mqttjs: a };
      runs.get(rate)?.push(pair);
      console.error(
        `round ${round + 1}, ${rate}/s: fleetsim ${achieved(pair.fleetsim).toFixed(0)} CONNACK/s${complete(pair.fleetsim)}, ${perCpuSecond(pair.fleetsim).toFixed(0)} per CPU s, p99 ${pair.fleetsim.p99Ms} ms, broker ${pair.fleetsim.brokerCorePercent?.toFixed(0)}%; ` +
          `mqtt.js ${achieved(pair.mqttjs).toFixed(0)}/s${complete(pair.mqttjs)}, ${perCpuSecond(pair.mqttjs).toFixed(0)} per CPU s, p99 ${pair.mqttjs.p99Ms?.toFixed(2)} ms, broker ${pair.mqttjs.brokerCorePercent?.toFixed(0)}%`,
      );
    }
  }
  console.log(`Connect storms: ${devices} idle lamps (keepalive 60 s) per run${certs ? ' over TLS (mqtts://, ECDSA P-256)' : ''}, against Mosquitto; ${pinningNote('broker')}; ${rounds} rounds.`);
  console.log("CONNACK/s = devices / time to all online; per CPU s = connects per second of the generator main thread's CPU until then (a core's capacity);");
  console.log('latency = CONNECT on the wire (TCP or TLS up) to CONNACK. Ratios are taken within each round, then the median and range over rounds.');
  console.log('A run whose clients were not all online by its end (the ramp + 15 s; mqtt.js: 120 s) counts those online over that time ("incomplete runs").');
  console.log(report(runs));
} finally {
  broker.stop();
  await rm(dir, { recursive: true, force: true });
}
