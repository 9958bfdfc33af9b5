import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { createServer } from 'node:http';
import type { Server, ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { readFile } from 'node:fs/promises';
import type { Results } from '../../src/metrics/results.ts';
import { runCli } from '../helpers/cli.ts';
import { TempDir } from '../helpers/temp-files.ts';

const MB = 1 << 20;
const BODY_MB = 50;
const CHUNK = Buffer.alloc(MB, 0x78);

/** `/big` streams a 50 MB body (with backpressure); `/small` answers five bytes. Counts what it finished sending. */
class BodyServer {
  readonly sent: Record<string, number> = {};
  private readonly server: Server = createServer((request, response) => {
    const route = request.url ?? '';
    response.on('finish', () => (this.sent[route] = (this.sent[route] ?? 0) + 1));
    if (route !== '/big') return void response.end('small');
    response.writeHead(200, { 'content-length': String(BODY_MB * MB) });
    streamBody(response, 0);
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

function streamBody(response: ServerResponse, written: number): void {
  for (let chunk = written; chunk < BODY_MB; chunk++) {
    if (!response.write(CHUNK)) return void response.once('drain', () => streamBody(response, chunk + 1));
  }
  response.end();
}

let temp: TempDir;
let server: BodyServer;
let url: string;
before(async () => {
  temp = await TempDir.create();
  server = new BodyServer();
  url = await server.listen();
  await temp.write('small.device.yaml', 'kind: device\nname: small\ntasks:\n  - name: /small\n    http: { method: GET, path: /small }\nwait: { model: constant, time: 0s }\n');
  await temp.write('big.device.yaml', 'kind: device\nname: big\ntasks:\n  - name: /big\n    http: { method: GET, path: /big, timeout: 20s }\nwait: { model: constant, time: 0s }\n');
});
after(async () => {
  await server.close();
  await temp.remove();
});

async function run(name: string, bigDevices: number): Promise<Results> {
  const big = bigDevices > 0 ? `  - device: big.device.yaml\n    count: ${bigDevices}\n` : '';
  const profile = await temp.write(`${name}.yaml`, `kind: profile\nseed: 1\nfleet:\n  - device: small.device.yaml\n    count: 20\n${big}`);
  const json = temp.file(`${name}.json`);
  const result = await runCli(['run', profile, '--target', url, '-t', '3s', '--json', json, '--quiet']);
  assert.equal(result.code, 0, result.stderr);
  return JSON.parse(await readFile(json, 'utf8')) as Results;
}

test('50 MB bodies beside a small route are counted to the byte and never buffered', { timeout: 40_000 }, async (t) => {
  const alone = await run('alone', 0);
  const smallAlone = alone.stats.find((row) => row.name === '/small') ?? assert.fail();
  const mixed = await run('mixed', 2);
  const small = mixed.stats.find((row) => row.name === '/small') ?? assert.fail();
  const big = mixed.stats.find((row) => row.name === '/big') ?? assert.fail('no /big row');
  // What fleetsim counted is what the server finished sending, route by route, over both runs.
  assert.equal(smallAlone.requests + small.requests, server.sent['/small']);
  assert.equal(big.requests, server.sent['/big']);
  assert.ok(big.requests >= 2, `${big.requests} big bodies`);
  assert.equal(big.failures, 0);
  assert.equal(big.bytesIn, big.requests * BODY_MB * MB, 'every byte of every body counted');
  // Counted and dropped as they stream: two devices buffering 50 MB each would add 100 MB.
  const growthMb = (mixed.generator.maxRssBytes - alone.generator.maxRssBytes) / MB;
  assert.ok(growthMb < 100, `max RSS grew by ${growthMb.toFixed(0)} MB with ${big.requests} bodies of ${BODY_MB} MB read`);
  t.diagnostic(
    `/small alone p50 ${smallAlone.latencyMs.p50} ms p99 ${smallAlone.latencyMs.p99} ms; beside ${big.requests} × ${BODY_MB} MB: p50 ${small.latencyMs.p50} ms p99 ${small.latencyMs.p99} ms; ` +
      `loop busy ${alone.generator.eventLoopBusyPercent}% → ${mixed.generator.eventLoopBusyPercent}%; max RSS ${(alone.generator.maxRssBytes / MB).toFixed(0)} → ${(mixed.generator.maxRssBytes / MB).toFixed(0)} MB`,
  );
});
