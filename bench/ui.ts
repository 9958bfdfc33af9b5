import { spawn } from 'node:child_process';
import { once } from 'node:events';
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { request } from 'node:http';
import { tmpdir } from 'node:os';
import path from 'node:path';
import type { Browser } from 'playwright-core';
import type { Results } from '../src/metrics/results.ts';
import { CHROMIUM_PATH, launchChromium } from '../test/helpers/chromium.ts';
import { compiledCli, fleet, measureRounds, pinned, pinning, pinningNote, runFleetsim } from './run-pinned.ts';
import type { Measured } from './run-pinned.ts';
import { startFixture } from './targets.ts';
import { RunStats } from '../src/metrics/stats.ts';
import { liveTable, TABLE_EVERY_INTERVALS } from '../src/ui/live-feed.ts';

/**
 * `cost`: the main-thread time the UI adds per interval with a page listening, timed directly, so a
 * loaded machine cannot hide it in the noise of two throughput runs: the table (bench:http's rows,
 * filled as a 20k req/s run fills them in a minute) and the message serialised once for all pages.
 */
function printCost(): void {
  const stats = new RunStats();
  const rows = [
    ['POST', '/data', 10],
    ['POST', '/health', 1],
    ['GET', '/ota', 1],
    ['GET', '/greet', 0.02],
  ] as const;
  let point;
  for (let second = 1; second <= 60; second++) {
    for (const [type, name, weight] of rows) {
      const entry = stats.entryFor(type, name);
      for (let i = 0; i < 20_000 * (weight / 12); i++) entry.record('ok', undefined, 800 + ((i * 7919) % 9000), -1, 40, false);
    }
    point = stats.snapshot(second * 1000, devices, devices, { busyPercent: 80, lagP99Ms: 3 });
  }
  const times: number[] = [];
  const cpuBefore = process.cpuUsage();
  for (let i = 0; i < 200; i++) {
    const start = process.hrtime.bigint();
    const message = { point, table: liveTable(stats.entries, 60, ['p95 < 500ms', 'failures < 1%']), devices: { online: devices, target: devices, running: devices, ceiling: devices } };
    JSON.stringify(message);
    times.push(Number(process.hrtime.bigint() - start) / 1e6);
  }
  const cpu = process.cpuUsage(cpuBefore);
  // CPU time, unlike wall time, does not grow while another process holds the core.
  const cpuMs = (cpu.user + cpu.system) / 1000 / times.length;
  times.sort((a, b) => a - b);
  const at = (q: number): string => (times[Math.floor(q * (times.length - 1))] ?? 0).toFixed(3);
  console.log(
    `UI work per table, sent every ${TABLE_EVERY_INTERVALS} s (over ${rows.length} rows + 1 type + total, thresholds, one JSON message), 200 samples: median ${at(0.5)} ms, p90 ${at(0.9)} ms, max ${at(1)} ms wall; ${cpuMs.toFixed(3)} ms of CPU on average: ${(cpuMs / TABLE_EVERY_INTERVALS / 10).toFixed(2)}% of a core.`,
  );
}

/**
 * What the live UI costs the generator: `npm run bench:ui [devices] [seconds] [rounds] [sse|page]`.
 * iot-node-flat-out against the standalone fixture, as bench:http runs it, alone and with `--ui`
 * followed by an SSE client (`sse`, the default: the generator's whole share of the UI's work) or by
 * the page in headless Chromium (`page`: the browser runs on the machine too), interleaved by round.
 */
const devices = Number(process.argv[2] ?? 200);
const seconds = Number(process.argv[3] ?? 10);
const rounds = Number(process.argv[4] ?? 3);
const mode = process.argv[5] ?? 'sse';
if (mode !== 'sse' && mode !== 'page' && mode !== 'cost') throw new Error(`unknown mode ${mode}: sse, page or cost`);
if (mode === 'cost') {
  printCost();
  process.exit(0);
}
const dir = await mkdtemp(path.join(tmpdir(), 'fleetsim-bench-ui-'));
const fixture = await startFixture();
let browser: Browser | undefined;

/** The process's own CPU as the run reported it, so both variants are charged alike (the UI process outlives its run). */
function measured(tool: string, results: Results): Measured {
  const generator = results.generator;
  return {
    tool,
    messages: results.total.requests,
    seconds: results.activeS,
    cpuSeconds: ((generator.processCpuPercent ?? generator.cpuPercent) / 100) * results.durationS,
    maxRssBytes: generator.maxRssBytes,
  };
}

async function plain(): Promise<Measured> {
  return measured('fleetsim iot-node-flat-out', await runFleetsim(dir, 'plain', fleet('profiles/iot-node-flat-out.yaml', devices, devices * 10, seconds, '--target', fixture.url)));
}

/** Follows the feed as a page does, parsing every message, until the run's `done`. */
function followFeed(base: string): Promise<number> {
  return new Promise((resolve, reject) => {
    let messages = 0;
    const feed = request(`${base}/api/events`, (res) => {
      let buffer = '';
      res.setEncoding('utf8').on('data', (chunk: string) => {
        buffer += chunk;
        let end;
        while ((end = buffer.indexOf('\n\n')) >= 0) {
          const frame = buffer.slice(0, end);
          buffer = buffer.slice(end + 2);
          const data = /^data: (.+)$/m.exec(frame)?.[1];
          if (data) JSON.parse(data);
          messages++;
          if (frame.startsWith('event: done')) {
            feed.destroy();
            resolve(messages);
          }
        }
      });
    });
    feed.on('error', reject);
    feed.end();
  });
}

/** Chromium on the target's core, so the browser does not take the generator's (a wrapper: Playwright execs the path it is given). */
async function chromiumOnCore1(): Promise<string> {
  if (!pinning) return CHROMIUM_PATH;
  const wrapper = path.join(dir, 'chromium-core1.sh');
  await writeFile(wrapper, `#!/bin/sh\nexec taskset -c 1 ${CHROMIUM_PATH} "$@"\n`, { mode: 0o755 });
  return wrapper;
}

/** Resolves when the page shows the finished run. */
async function followPage(base: string): Promise<number> {
  browser ??= await launchChromium();
  const tab = await browser.newPage({ viewport: { width: 1400, height: 1000 } });
  try {
    await tab.goto(`${base}/`);
    for (;;) {
      const ui = await tab.evaluate(() => (globalThis as unknown as { __ui: { status: string; intervals: number } }).__ui);
      if (ui.status === 'finished') return ui.intervals;
      await new Promise((resolve) => setTimeout(resolve, 250));
    }
  } finally {
    await tab.close();
  }
}

async function withUi(): Promise<Measured> {
  // Started before the run, so the page is open from its first seconds.
  if (mode === 'page') browser ??= await launchChromium(await chromiumOnCore1());
  const json = path.join(dir, 'ui.json');
  const args = [await compiledCli(), 'run', ...fleet('profiles/iot-node-flat-out.yaml', devices, devices * 10, seconds, '--target', fixture.url), '--ui', '--ui-port', '0', '--json', json, '--quiet'];
  const [file, argv] = pinned(0, process.execPath, args);
  const child = spawn(file, argv, { stdio: ['ignore', 'ignore', 'pipe'] });
  let stderr = '';
  const base = await new Promise<string>((resolve, reject) => {
    child.stderr.setEncoding('utf8').on('data', (chunk: string) => {
      stderr += chunk;
      const url = /fleetsim UI at http:\/\/[^:]+:(\d+)\//.exec(stderr);
      if (url) resolve(`http://127.0.0.1:${url[1] ?? ''}`);
    });
    child.once('exit', (code) => reject(new Error(`fleetsim --ui exited with ${code ?? 'a signal'}: ${stderr}`)));
  });
  const messages = await (mode === 'page' ? followPage(base) : followFeed(base));
  // A page that opens late still follows the rest of the run live; the SSE client is there from the start.
  if (messages < (mode === 'page' ? 1 : seconds / 2)) throw new Error(`only ${messages} messages reached the ${mode}`);
  child.kill('SIGINT');
  await once(child, 'exit');
  return measured(`with --ui and ${mode === 'page' ? 'the page open (Chromium)' : 'an SSE client'}`, JSON.parse(await readFile(json, 'utf8')) as Results);
}

try {
  const report = await measureRounds(fixture, rounds, [plain, withUi], 'req');
  console.log(
    `HTTP, ${devices} devices for ${seconds} s against the standalone fixture; ${pinningNote()}; ${mode === 'page' ? `Chromium ${pinning ? 'on core 1 with the target' : 'unpinned'}` : 'the SSE client in the benchmark process'}.`,
  );
  console.log('A ratio above 1.00 is the plain run faster than the one with the UI.');
  console.log(report);
} finally {
  await browser?.close();
  fixture.stop();
  await rm(dir, { recursive: true, force: true });
}
