import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { parseArgs } from 'node:util';
import { fleet, pinningNote, reportFlags, run, runFleetsimMeasured } from './run-pinned.ts';
import { flatOutPairing, plainOf, sideBySide, withReportsOf } from './side-by-side.ts';
import { nginxInstalled, startFixture, startMosquitto, startNginx } from './targets.ts';

/**
 * fleetsim's flat-out HTTP rate, build against build, interleaved in one run:
 * `npm run bench:compare -- VARIANT... [--rounds 5] [--devices 200] [--seconds 10] [--target fixture|nginx|mosquitto] [--profile FILE] [--together]`
 * (mosquitto: lamp-flat-out's QoS 1 publishes instead of iot-node-flat-out's requests, counting the
 * messages subscribers receive too). `--profile` runs one profile file for every variant instead of
 * each checkout's own (`npm run bench:delivery`: flat-out lamps with delivery headers, and consumers).
 * A VARIANT is a checkout's directory (another commit: `git worktree add /work/wt-base <sha> && npm ci`
 * there), optionally suffixed `+reports` to run it with `--csv --html --metrics-port`, scraped every
 * second. Each directory is built once; each round runs every variant once, in an order that turns
 * round by round (A B, then B A) so a machine that slows down during a round charges neither side
 * alone. Prints per variant the median rate and its range, and its ratio to the first variant taken
 * within each round (median and range), and CPU per 1k requests: the whole process's (start-up
 * included) and the main thread's over the run alone, which a loaded machine moves less than the rate.
 * `--together` runs two variants side by side instead (bench/side-by-side.ts): far less noise, but
 * both builds must have `--start-at`.
 */
const { values, positionals } = parseArgs({
  allowPositionals: true,
  options: {
    rounds: { type: 'string', default: '5' },
    devices: { type: 'string', default: '200' },
    seconds: { type: 'string', default: '10' },
    target: { type: 'string', default: 'fixture' },
    profile: { type: 'string' },
    together: { type: 'boolean', default: false },
  },
});
const rounds = Number(values.rounds);
const devices = Number(values.devices);
const seconds = Number(values.seconds);
if (positionals.length < 2) throw new Error('usage: bench/compare-commits.ts DIR[+reports] DIR[+reports]... [--rounds N] [--devices N] [--seconds N] [--target fixture|nginx|mosquitto]');
if (values.target !== 'fixture' && values.target !== 'nginx' && values.target !== 'mosquitto') throw new Error(`--target: fixture, nginx or mosquitto, got ${values.target}`);
const mqtt = values.target === 'mosquitto';
const profileFile = values.profile === undefined ? undefined : path.resolve(values.profile);
const profileName = profileFile ? path.basename(profileFile, '.yaml') : mqtt ? 'lamp-flat-out' : 'iot-node-flat-out';
const unit = mqtt ? 'msg/s' : 'req/s';
if (values.target === 'nginx' && !nginxInstalled) throw new Error('nginx is not installed (apt-get install nginx-light)');

interface Variant {
  readonly label: string;
  readonly dir: string;
  readonly reports: boolean;
  readonly rates: number[];
  readonly cpuPer1k: number[];
  /** Main-thread CPU over the run only, per 1k requests: start-up left out, and less moved by a busy machine than the rate. */
  readonly runCpuPer1k: number[];
}

const variants: Variant[] = positionals.map((text) => {
  const reports = text.endsWith('+reports');
  const dir = path.resolve(reports ? text.slice(0, -'+reports'.length) : text);
  return { label: text, dir, reports, rates: [], cpuPer1k: [], runCpuPer1k: [] };
});

/** Builds each checkout's CLI once, on the target's core, and returns its path. */
async function build(dir: string): Promise<string> {
  await run(1, process.execPath, [path.join(dir, 'node_modules/typescript/bin/tsc'), '-p', path.join(dir, 'tsconfig.build.json')]);
  return path.join(dir, 'bin/fleetsim.js');
}

const clis = new Map<string, string>();
for (const variant of variants) if (!clis.has(variant.dir)) clis.set(variant.dir, await build(variant.dir));
const work = await mkdtemp(path.join(tmpdir(), 'fleetsim-compare-'));
const target = values.target === 'nginx' ? await startNginx(work) : mqtt ? await startMosquitto(work) : await startFixture();

const MESSAGE_TYPES = new Set(['PUBLISH', 'DELIVER']);

async function measure(variant: Variant, round: number): Promise<number> {
  const label = `r${round}-${variants.indexOf(variant)}`;
  const reports = variant.reports ? await reportFlags(work, label) : undefined;
  const profile = profileFile ?? path.join(variant.dir, `profiles/${profileName}.yaml`);
  const { results, cpuSeconds } = await runFleetsimMeasured(
    work,
    label,
    fleet(profile, devices, devices * 10, seconds, mqtt ? '--broker' : '--target', target.url, ...(reports?.flags ?? [])),
    clis.get(variant.dir),
  );
  if (reports?.scraper.stop() === 0) throw new Error(`${variant.label}: never scraped`);
  if (results.total.failures > 0) throw new Error(`${variant.label} had failures: ${JSON.stringify(results.failures)}`);
  // MQTT: what the generator carried, messages sent and received, without its sessions' CONNECTs and SUBSCRIBEs.
  const count = mqtt ? results.stats.filter((row) => MESSAGE_TYPES.has(row.type)).reduce((sum, row) => sum + row.requests, 0) : results.total.requests;
  variant.cpuPer1k.push((cpuSeconds / count) * 1000);
  variant.runCpuPer1k.push(((results.generator.cpuPercent / 100) * results.durationS * 1000) / count);
  return count / results.activeS;
}

const median = (list: readonly number[]): number => {
  const sorted = [...list].sort((a, b) => a - b);
  return ((sorted[(sorted.length - 1) >> 1] ?? 0) + (sorted[sorted.length >> 1] ?? 0)) / 2;
};
const range = (list: readonly number[], digits: number): string => `${Math.min(...list).toFixed(digits)}–${Math.max(...list).toFixed(digits)}`;

/**
 * `--together`: the second variant against the first, side by side (bench/side-by-side.ts), each
 * round beside itself too. Both builds must know `--start-at` (and `--shard`, against Mosquitto).
 */
async function together(): Promise<void> {
  const [base, other] = variants;
  if (!base || !other || variants.length !== 2) throw new Error('--together compares exactly two variants');
  const variantOf = (variant: Variant) => (variant.reports ? withReportsOf(variant.label, clis.get(variant.dir)) : plainOf(variant.label, clis.get(variant.dir)));
  const profile = profileFile ?? path.join(base.dir, `profiles/${profileName}.yaml`);
  const pairing = flatOutPairing(profile, mqtt, devices, seconds, target.url);
  console.log(
    `fleetsim ${profileName}, ${devices} devices a run for ${seconds} s against ${values.target === 'nginx' ? 'nginx (one worker)' : mqtt ? 'Mosquitto' : 'the standalone fixture'}; ${pinningNote()}`,
  );
  console.log(await sideBySide(target, work, rounds, pairing, variantOf(other), variantOf(base)));
}

/** The variants one after another in each round, in an order that turns round by round. */
async function inTurn(): Promise<void> {
  const ratios: number[][] = variants.map(() => []);
  for (let round = 0; round < rounds; round++) {
    const order = round % 2 === 0 ? variants : [...variants].reverse();
    const rate = new Map<Variant, number>();
    for (const variant of order) rate.set(variant, await measure(variant, round));
    const first = rate.get(variants[0] as Variant) ?? Number.NaN;
    variants.forEach((variant, i) => {
      const value = rate.get(variant) ?? Number.NaN;
      variant.rates.push(value);
      ratios[i]?.push(value / first);
    });
    console.error(`round ${round + 1}/${rounds}: ${variants.map((variant) => `${variant.label} ${(rate.get(variant) ?? 0).toFixed(0)}`).join(', ')} ${unit}`);
  }
  console.log(
    `fleetsim ${profileName}, ${devices} devices for ${seconds} s against ${values.target === 'nginx' ? 'nginx (one worker)' : mqtt ? 'Mosquitto' : 'the standalone fixture'}, ${rounds} rounds interleaved; ${pinningNote()}`,
  );
  for (const [i, variant] of variants.entries()) {
    const ratio = ratios[i] ?? [];
    console.log(
      `  ${variant.label}: median ${median(variant.rates).toFixed(0)} ${unit} (${range(variant.rates, 0)}), ` +
        `÷ ${variants[0]?.label ?? ''} within each round ${median(ratio).toFixed(3)} (${range(ratio, 3)}); CPU s per 1k ${mqtt ? 'messages' : 'requests'}: process ${median(variant.cpuPer1k).toFixed(4)}, ` +
        `main thread over the run ${median(variant.runCpuPer1k).toFixed(4)} (${range(variant.runCpuPer1k, 4)})`,
    );
  }
}

try {
  await (values.together ? together() : inTurn());
} finally {
  target.stop();
  await rm(work, { recursive: true, force: true });
}
