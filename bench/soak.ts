import { spawn } from 'node:child_process';
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { parseArgs } from 'node:util';
import type { Results } from '../src/metrics/results.ts';
import { followGcTrace, rssMb } from './process-memory.ts';
import { compiledCli, freePort, pinned, pinningNote } from './run-pinned.ts';
import { startFixture, startMosquitto } from './targets.ts';
import type { Target } from './targets.ts';

/**
 * Does a long mixed run stay flat? `npm run bench:soak [-- --minutes N]` runs 2,000 iot-nodes
 * (5 s pacing, ~400 req/s) against the standalone HTTP fixture and 2,000 seed lamps (bursts of 10
 * QoS 1 publishes, 1-2 s think, ~13k msg/s) against Mosquitto, both on the other core, for 30
 * minutes by default. Every minute it prints the generator's RSS, V8 heap (in use, and live after
 * the latest full collection) and event-loop lag over that minute; at the end, the growth of each
 * since the 2-minute mark. The targets run on core 1; the generator runs on either core unless
 * `--pin` puts it on core 0: on a shared machine one core may be taken by others for minutes, and
 * a generator starved that long measures its backlog, not its memory.
 */
const { values } = parseArgs({ options: { minutes: { type: 'string', default: '30' }, pin: { type: 'boolean', default: false } } });
const minutes = Number(values.minutes);
if (!Number.isFinite(minutes) || minutes < 3) throw new Error('--minutes: at least 3 (growth is measured after the first 2)');
const DEVICES = 2000;
const SPAWN_RATE = 200;
const MB = 1048576;

const dir = await mkdtemp(path.join(tmpdir(), 'fleetsim-soak-'));
const profile = path.join(dir, 'soak.yaml');
await writeFile(
  profile,
  `kind: profile\nname: soak\nseed: 7\nfleet:\n  - device: ${path.resolve('devices/iot-node.yaml')}\n    count: ${DEVICES}\n  - device: ${path.resolve('devices/lamp.yaml')}\n    count: ${DEVICES}\n` +
    `spawnRate: ${SPAWN_RATE}\nduration: ${minutes * 60}s\nhttp:\n  connections: 50\n`,
);

/** One reading at a minute's mark. */
interface Reading {
  readonly minute: number;
  readonly rssMb: number;
  readonly heapUsedMb: number;
  /** Heap left after the latest full (mark-compact) collection: what the process retains. */
  readonly liveHeapMb: number | undefined;
  readonly lagP99Ms: number;
  readonly lagMaxMs: number;
  readonly busyPercent: number;
}

/** The value of one un-labelled sample line of a Prometheus text page. */
function sample(page: string, name: string): number {
  const match = new RegExp(`^${name} ([^\\s]+)`, 'm').exec(page);
  return match ? Number(match[1]) : Number.NaN;
}

async function soak(fixture: Target, broker: Target): Promise<void> {
  const port = await freePort();
  const json = path.join(dir, 'soak.json');
  const args = ['run', profile, '--target', fixture.url, '--broker', broker.url, '--metrics-port', String(port), '--json', json, '--quiet'];
  // --trace-gc prints the heap left after every full collection; RSS only bounds it from above.
  const nodeArgs = ['--trace-gc', await compiledCli(), ...args];
  const [file, argv] = values.pin ? pinned(0, process.execPath, nodeArgs) : [process.execPath, nodeArgs];
  const placement = values.pin ? pinningNote('targets') : 'targets on core 1, generator on either core';
  console.log(`bench:soak: ${DEVICES} iot-nodes against the fixture and ${DEVICES} lamps against Mosquitto, spawned at ${SPAWN_RATE}/s, for ${minutes} min (${placement})`);
  const child = spawn(file, argv, { stdio: ['ignore', 'pipe', 'inherit'] });
  let liveHeapMb: number | undefined;
  followGcTrace(
    child.stdout,
    (gc) => (liveHeapMb = gc.liveMb),
    (line) => console.log(`  | ${line}`),
  );
  const closed = new Promise<number | null>((resolve) => child.on('close', resolve));
  const readings: Reading[] = [];
  const started = Date.now();
  const timer = setInterval(() => {
    const minute = Math.round((Date.now() - started) / 60_000);
    // prom-client's event-loop monitor resets at each scrape, so one scrape a minute reads that minute's lag.
    fetch(`http://127.0.0.1:${port}/metrics`)
      .then((response) => response.text())
      .then((page) => {
        const rss = child.pid === undefined ? undefined : rssMb(child.pid);
        if (rss === undefined) return;
        const reading: Reading = {
          minute,
          rssMb: rss,
          heapUsedMb: sample(page, 'nodejs_heap_size_used_bytes') / MB,
          liveHeapMb,
          lagP99Ms: sample(page, 'nodejs_eventloop_lag_p99_seconds') * 1000,
          lagMaxMs: sample(page, 'nodejs_eventloop_lag_max_seconds') * 1000,
          busyPercent: sample(page, 'fleetsim_generator_event_loop_busy_ratio') * 100,
        };
        readings.push(reading);
        const live = reading.liveHeapMb === undefined ? '-' : reading.liveHeapMb.toFixed(1);
        console.log(
          `  min ${String(minute).padStart(2)}: RSS ${reading.rssMb.toFixed(1)} MB, heap used ${reading.heapUsedMb.toFixed(1)} MB (live after the latest full GC ${live} MB), ` +
            `lag p99 ${reading.lagP99Ms.toFixed(1)} ms (max ${reading.lagMaxMs.toFixed(1)} ms), event loop ${reading.busyPercent.toFixed(0)}% busy`,
        );
      })
      .catch(() => undefined);
  }, 60_000);
  const code = await closed;
  clearInterval(timer);
  if (code !== 0) throw new Error(`fleetsim exited ${code}`);
  const results = JSON.parse(await readFile(json, 'utf8')) as Results;
  summarise(readings, results);
}

function growth(label: string, from: number | undefined, to: number | undefined, unit: string): string {
  if (from === undefined || to === undefined) return `${label} -`;
  const percent = ((to - from) / from) * 100;
  return `${label} ${from.toFixed(1)} → ${to.toFixed(1)} ${unit} (${percent >= 0 ? '+' : ''}${percent.toFixed(1)}%)`;
}

function summarise(readings: readonly Reading[], results: Results): void {
  const base = readings.find((reading) => reading.minute >= 2);
  const end = readings.at(-1);
  const later = readings.filter((reading) => reading.minute > 2);
  console.log(
    `  growth from minute ${base?.minute ?? '-'} to minute ${end?.minute ?? '-'}: ${growth('RSS', base?.rssMb, end?.rssMb, 'MB')}; ${growth('live heap', base?.liveHeapMb, end?.liveHeapMb, 'MB')}; ${growth('heap used', base?.heapUsedMb, end?.heapUsedMb, 'MB')}`,
  );
  if (later.length > 0) {
    console.log(
      `  after minute 2: RSS ${Math.min(...later.map((r) => r.rssMb)).toFixed(1)}–${Math.max(...later.map((r) => r.rssMb)).toFixed(1)} MB, ` +
        `lag p99 per minute ${Math.min(...later.map((r) => r.lagP99Ms)).toFixed(1)}–${Math.max(...later.map((r) => r.lagP99Ms)).toFixed(1)} ms`,
    );
  }
  const byType = (type: string): string => {
    const rows = results.stats.filter((row) => row.type === type);
    const sum = (field: 'requests' | 'failures' | 'timeouts'): number => rows.reduce((total, row) => total + row[field], 0);
    return `${type} ${sum('requests')} (${sum('failures')} failed, ${sum('timeouts')} timeouts)`;
  };
  console.log(`  ${results.devices.online} of ${results.devices.target} devices online at the end; ${['GET', 'POST', 'CONNECT', 'PUBLISH'].map(byType).join('; ')}`);
  console.log(
    `  history: ${results.history.length} points (${results.history.filter((point) => point.folded > 1).length} folded); generator event-loop lag p99 over the run ${results.generator.eventLoopLagP99Ms} ms`,
  );
}

let fixture: Target | undefined;
let broker: Target | undefined;
try {
  fixture = await startFixture();
  broker = await startMosquitto(dir);
  await soak(fixture, broker);
} finally {
  fixture?.stop();
  broker?.stop();
  await rm(dir, { recursive: true, force: true });
}
