import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { createServer } from 'node:net';
import type { AddressInfo, Server, Socket } from 'node:net';
import { readFile } from 'node:fs/promises';
import type { Results } from '../../src/metrics/results.ts';
import { runCli } from '../helpers/cli.ts';
import { TempDir } from '../helpers/temp-files.ts';

let temp: TempDir;
let server: Server;
let url: string;
let received = 0;
const sockets = new Set<Socket>();
before(async () => {
  temp = await TempDir.create();
  // Reads every request and never answers; counts the request lines it was sent.
  server = createServer((socket) => {
    sockets.add(socket);
    socket.on('close', () => sockets.delete(socket));
    socket.setEncoding('latin1').on('data', (chunk: string) => (received += chunk.split('GET /wait ').length - 1));
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  url = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
});
after(async () => {
  for (const socket of sockets) socket.destroy();
  await new Promise<void>((resolve) => server.close(() => resolve()));
  await temp.remove();
});

test("a 2 s timeout fires at 2 s, not on undici's half-second ticks", { timeout: 30_000 }, async () => {
  await temp.write('waiter.device.yaml', 'kind: device\nname: waiter\ntasks:\n  - name: /wait\n    http: { method: GET, path: /wait, timeout: 2s }\nwait: { model: constant, time: 0s }\n');
  const profile = await temp.write('waiter.yaml', 'kind: profile\nseed: 1\nfleet:\n  - device: waiter.device.yaml\n    count: 30\n');
  const json = temp.file('waiter.json');
  const result = await runCli(['run', profile, '--target', url, '-t', '3s', '--json', json, '--quiet']);
  assert.equal(result.code, 0, result.stderr);
  const results = JSON.parse(await readFile(json, 'utf8')) as Results;
  const row = results.stats[0] ?? assert.fail('no row');
  // Two rounds of 30: each request the server read ended as a timeout, with no answer.
  assert.equal(row.requests, 60);
  assert.equal(received, row.requests);
  assert.equal(row.timeouts, row.requests);
  assert.deepEqual(
    results.failures.map((failure) => [failure.error, failure.count]),
    [['timeout: no response headers in time', 60]],
  );
  assert.equal(row.latencyMs.p50, null, 'no answers, so no latency');
  const waited = row.failedLatencyMs;
  // undici's own timers fired these between 2.0 and 2.5 s (median ~2.49 s); on a native timer they
  // fire at the deadline plus the event loop's lag.
  assert.ok((waited.min ?? 0) >= 1999, `min ${waited.min} ms`);
  assert.ok((waited.p50 ?? Infinity) < 2050, `p50 ${waited.p50} ms`);
  assert.ok((waited.max ?? Infinity) < 2250, `max ${waited.max} ms`);
});
