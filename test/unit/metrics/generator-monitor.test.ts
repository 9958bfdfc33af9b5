import { test } from 'node:test';
import assert from 'node:assert/strict';
import { once } from 'node:events';
import { Worker } from 'node:worker_threads';
import { mainThreadCpuMicros, saturationWarning } from '../../../src/metrics/generator-monitor.ts';

const onLinux = process.platform === 'linux';

test('main-thread CPU counts the event loop and not another thread of the process', { skip: !onLinux }, async () => {
  const main0 = mainThreadCpuMicros() ?? Number.NaN;
  const process0 = process.cpuUsage();
  // Another thread (as the embedded fixture is) burns 400 ms of CPU while the main loop idles. It
  // spins on CPU time, not wall time, so a loaded machine only makes it take longer.
  const worker = new Worker(
    'const start = process.cpuUsage(); const deadline = Date.now() + 20000; while (Date.now() < deadline) { const used = process.cpuUsage(start); if (used.user + used.system >= 400000) break; }',
    { eval: true },
  );
  await once(worker, 'exit');
  const main1 = mainThreadCpuMicros() ?? Number.NaN;
  const processUsed = process.cpuUsage(process0);
  assert.ok(processUsed.user + processUsed.system >= 300_000, `the process used only ${processUsed.user + processUsed.system} µs`);
  assert.ok(main1 - main0 < 150_000, `the main thread was charged ${main1 - main0} µs for the worker's spin`);
  // Now the main thread itself burns 300 ms of CPU, as the process counts it; its own counter must follow.
  const before = process.cpuUsage();
  const deadline = Date.now() + 20_000;
  while (Date.now() < deadline) {
    const used = process.cpuUsage(before);
    if (used.user + used.system >= 300_000) break;
  }
  const main2 = mainThreadCpuMicros() ?? Number.NaN;
  assert.ok(main2 - main1 >= 250_000, `the main thread was charged only ${main2 - main1} µs for its own spin`);
});

test('the saturation warning names what is saturated', () => {
  assert.equal(saturationWarning({ cpuPercent: 50, maxRssBytes: 1, eventLoopLagP99Ms: 2 }), undefined);
  assert.match(saturationWarning({ cpuPercent: 97, processCpuPercent: 130, maxRssBytes: 1, eventLoopLagP99Ms: 2 }) ?? '', /main thread CPU at 97% of a core/);
  assert.match(saturationWarning({ cpuPercent: 20, maxRssBytes: 1, eventLoopLagP99Ms: 80 }) ?? '', /event-loop lag p99 80 ms/);
});

test('the saturation warning advises only what the CLI has', () => {
  const warning = saturationWarning({ cpuPercent: 97, maxRssBytes: 1, eventLoopLagP99Ms: 80 }) ?? '';
  assert.match(warning, /run fewer devices or a lower rate per process$/);
  assert.doesNotMatch(warning, /--workers|shard/);
});
