import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { fleet, pinningNote, runFleetsimMeasured } from './run-pinned.ts';
import type { Measured } from './run-pinned.ts';
import { startMosquitto } from './targets.ts';

/**
 * What simulated network links cost fleetsim: the same lamps (devices/lamp.yaml, QoS 1 bursts of
 * 10) against Mosquitto, plain and each on its own `lte-m` link, in alternating runs:
 * `npm run bench:network [devices] [seconds] [rounds]` (1,000 lamps, 20 s, 3 rounds by default).
 * Prints per run and as medians the acked publishes, CPU seconds per 1k of them, and the ratio.
 */
const devices = Number(process.argv[2] ?? 1000);
const seconds = Number(process.argv[3] ?? 20);
const rounds = Number(process.argv[4] ?? 3);
const dir = await mkdtemp(path.join(tmpdir(), 'fleetsim-bench-'));
const broker = await startMosquitto(dir);

async function lamps(label: 'plain' | 'lte-m'): Promise<Measured & { p50: number | null; linkMs: number | null }> {
  const profile = label === 'plain' ? 'bench/profiles/lamp-plain.yaml' : 'bench/profiles/lamp-lte-m.yaml';
  // The verdict on the load is not what is measured here: a shared machine must not stop the run.
  const { results, cpuSeconds, maxRssBytes } = await runFleetsimMeasured(dir, label, fleet(profile, devices, 200, seconds, '--broker', broker.url, '--min-delivered', 'off'));
  const publish = results.types.find((row) => row.type === 'PUBLISH');
  if (!publish) throw new Error('no PUBLISH row');
  const row = results.stats.find((entry) => entry.type === 'PUBLISH');
  return { tool: label, messages: publish.requests - publish.failures, seconds: results.activeS, cpuSeconds, maxRssBytes, p50: publish.latencyMs.p50, linkMs: row?.linkMeanMs ?? null };
}

const perK = (row: Measured): number => (row.cpuSeconds / row.messages) * 1000;
const median = (values: number[]): number => [...values].sort((a, b) => a - b)[Math.floor((values.length - 1) / 2)] ?? NaN;

try {
  const plain: number[] = [];
  const shaped: number[] = [];
  console.log(`${devices} lamps for ${seconds} s against Mosquitto, plain and on lte-m, ${rounds} rounds; ${pinningNote('broker')}.`);
  console.log('run     acked publishes  msg/s  CPU s per 1k  max RSS MB  PUBLISH p50 ms  link added ms');
  for (let round = 0; round < rounds; round++) {
    for (const label of ['plain', 'lte-m'] as const) {
      const row = await lamps(label);
      (label === 'plain' ? plain : shaped).push(perK(row));
      console.log(
        `${label.padEnd(6)}  ${String(row.messages).padStart(15)}  ${(row.messages / row.seconds).toFixed(0).padStart(5)}  ${perK(row).toFixed(4).padStart(12)}  ${(row.maxRssBytes / 1048576).toFixed(0).padStart(10)}  ${String(row.p50 ?? '-').padStart(14)}  ${String(row.linkMs ?? '-').padStart(13)}`,
      );
    }
  }
  const ratio = median(shaped) / median(plain);
  console.log(`median CPU s per 1k acked publishes: plain ${median(plain).toFixed(4)}, lte-m ${median(shaped).toFixed(4)}: the links cost ×${ratio.toFixed(2)}.`);
} finally {
  broker.stop();
  await rm(dir, { recursive: true, force: true });
}
