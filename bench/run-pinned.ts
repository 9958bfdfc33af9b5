import { spawn } from 'node:child_process';
import { existsSync } from 'node:fs';
import { readFile } from 'node:fs/promises';
import type { Results } from '../src/metrics/results.ts';
import { createServer } from 'node:net';
import type { AddressInfo } from 'node:net';
import os from 'node:os';
import path from 'node:path';

/** The generator runs on core 0 and the target on core 1, when the machine has both and taskset. */
export const pinning = existsSync('/usr/bin/taskset') && os.cpus().length >= 2;

/** How the run was placed on the cores, for a benchmark's heading. */
export function pinningNote(target = 'target'): string {
  return pinning ? `generator on core 0, ${target} on core 1` : 'NOT pinned (no taskset or one core): numbers are noisier';
}

/** The flags of a run with every report on (`--csv --html --metrics-port`), and a scraper reading its /metrics every second. */
export async function reportFlags(dir: string, label: string): Promise<{ flags: string[]; scraper: Scraper }> {
  const port = await freePort();
  return { flags: ['--csv', path.join(dir, label), '--html', path.join(dir, `${label}.html`), '--metrics-port', String(port)], scraper: new Scraper(`http://127.0.0.1:${port}/metrics`) };
}

/** Scrapes a run's /metrics every second, as a (busy) Prometheus would, until stopped. */
export class Scraper {
  scrapes = 0;
  private readonly timer: NodeJS.Timeout;

  constructor(url: string) {
    this.timer = setInterval(() => {
      fetch(url)
        .then(async (response) => {
          await response.text();
          if (response.ok) this.scrapes++;
        })
        .catch(() => undefined);
    }, 1000);
  }

  stop(): number {
    clearInterval(this.timer);
    return this.scrapes;
  }
}

/** `fleetsim run` arguments for `devices` of a profile, spawned at `spawnRate`, for `seconds`. */
export function fleet(profile: string, devices: number, spawnRate: number, seconds: number, ...extra: string[]): string[] {
  return [profile, '-u', String(devices), '-r', String(spawnRate), '-t', `${seconds}s`, ...extra];
}

export function pinned(core: 0 | 1, command: string, args: readonly string[]): [string, string[]] {
  return pinning ? ['taskset', ['-c', String(core), command, ...args]] : [command, [...args]];
}

/** Runs a command to completion and returns its stdout; fails with its stderr. */
export function run(core: 0 | 1, command: string, args: readonly string[]): Promise<string> {
  const [file, argv] = pinned(core, command, args);
  return new Promise((resolve, reject) => {
    const child = spawn(file, argv, { stdio: ['ignore', 'pipe', 'pipe'] });
    let stdout = '';
    let stderr = '';
    child.stdout.setEncoding('utf8').on('data', (chunk: string) => (stdout += chunk));
    child.stderr.setEncoding('utf8').on('data', (chunk: string) => (stderr += chunk));
    child.on('close', (code) => (code === 0 ? resolve(stdout) : reject(new Error(`${command} ${args.join(' ')} exited ${code}: ${stderr.slice(-2000)}`))));
  });
}

export async function freePort(): Promise<number> {
  const server = createServer();
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;
  await new Promise((resolve) => server.close(resolve));
  return port;
}

/** What running a tool cost: user + system CPU seconds and peak RSS. */
interface ProcessCost {
  readonly cpuSeconds: number;
  readonly maxRssBytes: number;
}

export interface Measured extends ProcessCost {
  readonly tool: string;
  readonly messages: number;
  readonly seconds: number;
  /** The target's share of its core while this tool ran: near 100% means the target, not the tool, set the rate. */
  readonly targetCorePercent?: number;
}

/** Runs one tool's measurement and adds how busy the target was meanwhile, over the tool's active seconds. */
async function againstTarget(target: { cpuSeconds(): number }, measure: () => Promise<Measured | undefined>): Promise<Measured | undefined> {
  const before = target.cpuSeconds();
  const row = await measure();
  return row && { ...row, targetCorePercent: ((target.cpuSeconds() - before) / row.seconds) * 100 };
}

const rateOf = (row: Measured): number => row.messages / row.seconds;

function aligned(lines: readonly (readonly string[])[]): string {
  const widths = (lines[0] ?? []).map((_, i) => Math.max(...lines.map((line) => (line[i] ?? '').length)));
  return lines.map((line) => line.map((cell, i) => (i === 0 ? cell.padEnd(widths[i] ?? 0) : cell.padStart(widths[i] ?? 0))).join('  ')).join('\n');
}

/** The columns after rate and ratio, from one measurement. */
function costColumns(row: Measured): string[] {
  return [((row.cpuSeconds / row.messages) * 1000).toFixed(4), (row.maxRssBytes / 1048576).toFixed(0), row.targetCorePercent === undefined ? '-' : row.targetCorePercent.toFixed(0)];
}

const COST_HEADERS = (unit: string): string[] => [`CPU s per 1k ${unit}`, 'max RSS MB', 'target core %'];

/** The fleetsim rows of a round (one per variant, e.g. per HTTP client), by their tool names. */
const fleetsimRows = (rows: readonly Measured[]): Measured[] => rows.filter((row) => row.tool.startsWith('fleetsim'));

/** The ratio columns' headings: `fleetsim ÷ tool`, or one per fleetsim variant when a round has several. */
function ratioHeadings(fleetsims: readonly Measured[]): string[] {
  return fleetsims.length <= 1 ? ['fleetsim ÷ tool'] : fleetsims.map((row) => `${row.tool} ÷ tool`);
}

/** One row per tool: rate, the ratio of (each) fleetsim's rate to it, CPU seconds per 1k messages, RSS. */
function table(rows: readonly Measured[], unit: string): string {
  const fleetsims = fleetsimRows(rows);
  const lines = [['tool', `${unit}/s`, ...ratioHeadings(fleetsims), ...COST_HEADERS(unit)]];
  for (const row of rows)
    lines.push([row.tool, rateOf(row).toFixed(0), ...(fleetsims.length > 0 ? fleetsims.map((fleetsim) => (rateOf(fleetsim) / rateOf(row)).toFixed(2)) : ['-']), ...costColumns(row)]);
  return aligned(lines);
}

function median<T>(values: readonly T[], by: (value: T) => number): T | undefined {
  return [...values].sort((a, b) => by(a) - by(b))[Math.floor((values.length - 1) / 2)];
}

/**
 * Runs the tools one after another against the target, `rounds` times, and formats one table, or
 * with several rounds their medians. A tool that is not installed measures nothing and is left out.
 */
export async function measureRounds(target: { cpuSeconds(): number }, rounds: number, tools: readonly (() => Promise<Measured | undefined>)[], unit: string): Promise<string> {
  const results: Measured[][] = [];
  for (let i = 0; i < rounds; i++) {
    const rows: Measured[] = [];
    for (const tool of tools) {
      const row = await againstTarget(target, tool);
      if (row) rows.push(row);
    }
    results.push(rows);
  }
  return results.length === 1 ? table(results[0] ?? [], unit) : roundsTable(results, unit);
}

/**
 * Several rounds of the same tools, one after another in each round: per tool the round with the
 * median rate (its cost columns too), and fleetsim's ratio to it taken within each round, as a
 * median and a range, so a slow minute on the machine moves both sides of a ratio alike.
 */
function roundsTable(rounds: readonly (readonly Measured[])[], unit: string): string {
  const fleetsimTools = fleetsimRows(rounds[0] ?? []).map((row) => row.tool);
  const headings = ratioHeadings(fleetsimRows(rounds[0] ?? [])).flatMap((heading) => [heading, 'range']);
  const lines = [['tool', `median ${unit}/s`, 'range', ...(headings.length > 0 ? headings : ['fleetsim ÷ tool', 'range']), ...COST_HEADERS(unit)]];
  const range = (values: number[], digits: number): string => `${Math.min(...values).toFixed(digits)}–${Math.max(...values).toFixed(digits)}`;
  for (const tool of rounds[0]?.map((row) => row.tool) ?? []) {
    const rows: Measured[] = [];
    // Per fleetsim variant, its ratio to this tool in each round.
    const ratios: number[][] = fleetsimTools.map(() => []);
    for (const round of rounds) {
      const row = round.find((candidate) => candidate.tool === tool);
      if (!row) continue;
      rows.push(row);
      fleetsimTools.forEach((name, i) => {
        const fleetsim = round.find((candidate) => candidate.tool === name);
        if (fleetsim) ratios[i]?.push(rateOf(fleetsim) / rateOf(row));
      });
    }
    const middle = median(rows, rateOf);
    if (!middle) continue;
    const rates = rows.map(rateOf);
    const ratioCells = ratios.length === 0 ? ['-', '-'] : ratios.flatMap((values) => (values.length > 0 ? [(median(values, (ratio) => ratio) ?? 0).toFixed(2), range(values, 2)] : ['-', '-']));
    lines.push([tool, rateOf(middle).toFixed(0), range(rates, 0), ...ratioCells, ...costColumns(middle)]);
  }
  return `${rounds.length} rounds\n${aligned(lines)}`;
}

/** Whole-process CPU and peak RSS come from GNU time, so a tool is charged for its start-up and shutdown too. */
const timeInstalled = existsSync('/usr/bin/time');

export const locustInstalled = existsSync('/usr/bin/locust') && timeInstalled;

/** Runs a command on `core` under /usr/bin/time: the whole process's user + system CPU and its max RSS. */
async function runTimed(core: 0 | 1, command: string, args: readonly string[], timeFile: string): Promise<ProcessCost> {
  await run(core, '/usr/bin/time', ['-o', timeFile, '-f', '%U %S %M', command, ...args]);
  const [user, system, rssKb] = (await readFile(timeFile, 'utf8')).trim().split('\n').pop()?.split(' ').map(Number) ?? [];
  return { cpuSeconds: (user ?? 0) + (system ?? 0), maxRssBytes: (rssKb ?? 0) * 1024 };
}

export async function runLocust(tool: string, locustfile: string, host: string, users: number, seconds: number, dir: string): Promise<Measured | undefined> {
  if (!locustInstalled) return undefined;
  const prefix = path.join(dir, 'locust');
  const cost = await runTimed(
    0,
    '/usr/bin/locust',
    ['-f', locustfile, '--headless', '-u', String(users), '-r', String(users), '-t', `${seconds}s`, '--host', host, '--csv', prefix, '--only-summary', '--exit-code-on-error', '0'],
    path.join(dir, 'locust.time'),
  );
  const rows = (await readFile(`${prefix}_stats.csv`, 'utf8')).trim().split('\n');
  const header = (rows[0] ?? '').split(',');
  const aggregated = rows.find((row) => row.includes(',Aggregated,'))?.split(',') ?? [];
  const field = (name: string): number => Number(aggregated[header.indexOf(name)]);
  const requests = field('Request Count');
  return { tool, messages: requests, seconds: requests / field('Requests/s'), ...cost };
}

let built: Promise<string> | undefined;

/**
 * Benchmarks run the compiled CLI, as `npx fleetsim` does: no TypeScript loader thread in the
 * process being measured (it alone holds ~40 MB). Built once per benchmark, from the working tree.
 */
export function compiledCli(): Promise<string> {
  built ??= run(1, process.execPath, ['node_modules/typescript/bin/tsc', '-p', 'tsconfig.build.json']).then(() => 'bin/fleetsim.js');
  return built;
}

/** `fleetsim run` arguments that write the results JSON to `dir`, and where it goes; `cli` is another build's, or this tree's. */
async function fleetsimRun(dir: string, label: string, args: readonly string[], cli?: string): Promise<{ argv: string[]; json: string }> {
  const json = path.join(dir, `${label}.json`);
  // BENCH_CPU_PROF=DIR: each fleetsim run writes a V8 CPU profile there (--cpu-prof), to see where a bench's time goes.
  const profile = process.env.BENCH_CPU_PROF ? ['--cpu-prof', `--cpu-prof-dir=${path.resolve(process.env.BENCH_CPU_PROF)}`] : [];
  return { argv: [...profile, cli ?? (await compiledCli()), 'run', ...args, '--json', json, '--quiet'], json };
}

async function readResults(json: string): Promise<Results> {
  return JSON.parse(await readFile(json, 'utf8')) as Results;
}

/** Runs `fleetsim run` on core 0 with a JSON report in `dir` and returns the results. */
export async function runFleetsim(dir: string, label: string, args: readonly string[], cli?: string): Promise<Results> {
  const { argv, json } = await fleetsimRun(dir, label, args, cli);
  await run(0, process.execPath, argv);
  return readResults(json);
}

/**
 * Runs `fleetsim run` as `runFleetsim` does and also returns what the whole process cost, measured
 * as Locust's is (start-up, profile compiling and writing results included), so their CPU per 1k
 * compares like with like. Without /usr/bin/time, the run's own report of its process CPU stands in.
 * `cli` runs another build (bench/compare-commits.ts), this tree's by default.
 */
export async function runFleetsimMeasured(dir: string, label: string, args: readonly string[], cli?: string): Promise<{ results: Results } & ProcessCost> {
  if (!timeInstalled) {
    const results = await runFleetsim(dir, label, args, cli);
    const generator = results.generator;
    return { results, cpuSeconds: ((generator.processCpuPercent ?? generator.cpuPercent) / 100) * results.durationS, maxRssBytes: generator.maxRssBytes };
  }
  const { argv, json } = await fleetsimRun(dir, label, args, cli);
  const cost = await runTimed(0, process.execPath, argv, path.join(dir, `${label}.time`));
  return { results: await readResults(json), ...cost };
}
