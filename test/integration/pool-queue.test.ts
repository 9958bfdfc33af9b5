import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { createServer } from 'node:http';
import type { Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { readFile } from 'node:fs/promises';
import { createHistogram, recordMicros } from '../../src/metrics/histogram.ts';
import type { Results } from '../../src/metrics/results.ts';
import { runCli } from '../helpers/cli.ts';
import { TempDir } from '../helpers/temp-files.ts';

const HANG_MS = 3000;

/** `/greet` answers at once and times itself; `/hang` holds its connection for 3 s. Counts each answered request. */
class HangingTarget {
  readonly served = { greet: 0, hang: 0 };
  readonly greetMicros = createHistogram();
  private readonly server: Server = createServer((request, response) => {
    const started = process.hrtime.bigint();
    request.resume();
    request.on('end', () => {
      if (request.url?.startsWith('/hang')) {
        setTimeout(() => {
          this.served.hang++;
          response.end('late');
        }, HANG_MS);
        return;
      }
      response.on('finish', () => recordMicros(this.greetMicros, Number(process.hrtime.bigint() - started) / 1000));
      this.served.greet++;
      response.end('hello');
    });
  });

  async listen(): Promise<string> {
    await new Promise<void>((resolve) => this.server.listen(0, '127.0.0.1', resolve));
    return `http://127.0.0.1:${(this.server.address() as AddressInfo).port}`;
  }

  async close(): Promise<void> {
    this.server.closeAllConnections();
    await new Promise<void>((resolve) => this.server.close(() => resolve()));
  }
}

let temp: TempDir;
let target: HangingTarget;
let url: string;
before(async () => {
  temp = await TempDir.create();
  target = new HangingTarget();
  url = await target.listen();
});
after(async () => {
  await target.close();
  await temp.remove();
});

test("requests waiting for one of 50 pooled connections: the healthy route keeps the server's latency, the wait is queuedMs, and the summary names the pool", { timeout: 30_000 }, async () => {
  await temp.write(
    'mixed.device.yaml',
    `kind: device
name: mixed
tasks:
  - name: /greet
    weight: 4
    http: { method: GET, path: /greet, timeout: 5s }
  - name: /hang
    weight: 1
    http: { method: GET, path: /hang, timeout: 5s }
wait: { model: constant, time: 0s }
`,
  );
  const profile = await temp.write('mixed.yaml', 'kind: profile\nseed: 3\nfleet:\n  - device: mixed.device.yaml\n    count: 100\nspawnRate: 1000\nhttp:\n  connections: 50\n');
  const json = temp.file('mixed.json');
  const result = await runCli(['run', profile, '--target', url, '-t', '5s', '--json', json, '--quiet']);
  assert.equal(result.code, 0, result.stderr);
  const results = JSON.parse(await readFile(json, 'utf8')) as Results;
  const greet = results.stats.find((row) => row.name === '/greet') ?? assert.fail('no /greet row');
  const hang = results.stats.find((row) => row.name === '/hang') ?? assert.fail('no /hang row');
  // Counts match the server's: every request was answered within the drain.
  assert.equal(greet.failures + hang.failures, 0, JSON.stringify(results.failures));
  assert.equal(greet.requests, target.served.greet);
  assert.equal(hang.requests, target.served.hang);
  assert.ok(hang.requests >= 50, `${hang.requests} hanging requests`);
  // /greet requests queued for seconds behind the hanging ones: that is the pool, not the target.
  const queued = greet.queuedMs ?? assert.fail('no queuedMs on a shared pool');
  assert.ok((queued.max ?? 0) >= 1000, `greet waited at most ${queued.max} ms`);
  // The target answered /greet at once; fleetsim's latency of it (from the connection on) says so.
  const serverP50Ms = target.greetMicros.getValueAtPercentile(50) / 1000;
  const greetP50 = greet.latencyMs.p50 ?? assert.fail('no /greet latency');
  assert.ok(greetP50 < 50, `/greet p50 ${greetP50} ms (server's own p50 ${serverP50Ms} ms, queued p50 ${queued.p50} ms)`);
  assert.ok((hang.latencyMs.p50 ?? 0) >= HANG_MS * 0.95, `/hang p50 ${hang.latencyMs.p50} ms`);
  assert.match(result.stdout, /Warning: requests waited up to \d+\.\d s \(p99 [\d.]+ m?s\) for one of 50 connections: raise http\.connections or use connectionPerDevice/);
  assert.ok(results.warnings.some((warning) => warning.includes('queuedMs')));
});
