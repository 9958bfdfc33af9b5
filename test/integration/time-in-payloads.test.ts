import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { readFile } from 'node:fs/promises';
import { createServer } from 'node:http';
import type { Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { runCli } from '../helpers/cli.ts';
import { TempDir } from '../helpers/temp-files.ts';

const DEVICE = `kind: device
name: clocked
tasks:
  - name: /reading
    http:
      method: POST
      path: "/reading?sent={{ nowMs() }}"
      json: { at: "{{ now() }}", ms: "{{ nowMs() }}", value: "{{ int(1, 1000) }}", label: "at {{ now() }}" }
wait: { model: constant, time: 5ms }
`;

/** What the server saw: each request's query and body, as received. */
interface Seen {
  readonly sent: number;
  readonly at: string;
  readonly ms: number;
  readonly label: string;
}

let temp: TempDir;
let server: Server;
let url: string;
const seen: Seen[] = [];

before(async () => {
  temp = await TempDir.create();
  await temp.write('clocked.yaml', DEVICE);
  server = createServer((request, response) => {
    const chunks: Buffer[] = [];
    request.on('data', (chunk: Buffer) => chunks.push(chunk));
    request.on('end', () => {
      const body = JSON.parse(Buffer.concat(chunks).toString('utf8')) as { at: string; ms: number; label: string };
      const sent = Number(new URL(request.url ?? '/', 'http://x').searchParams.get('sent'));
      seen.push({ sent, at: body.at, ms: body.ms, label: body.label });
      response.writeHead(200, { 'content-type': 'application/json' }).end('{}');
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  url = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
});
after(async () => {
  server.closeAllConnections();
  await new Promise((resolve) => server.close(resolve));
  await temp.remove();
});

async function run(name: string): Promise<{ lines: string[]; sent: string[] }> {
  const profile = await temp.write(`${name}.yaml`, 'fleet:\n  - device: clocked.yaml\n    count: 5\nspawnRate: 100\n');
  const log = temp.file(`${name}.ndjson`);
  const result = await runCli(['run', profile, '--target', url, '--iterations', '4', '--seed', '11', '--log-requests', log, '--quiet']);
  assert.equal(result.code, 0, result.stderr);
  const lines = (await readFile(log, 'utf8')).trim().split('\n');
  // Timing fields differ run to run by nature; everything a device sent must not.
  const sent = lines
    .map((line) => {
      const { device, seq, type, name: row, target, body } = JSON.parse(line) as Record<string, unknown>;
      return JSON.stringify([device, seq, type, row, target, body]);
    })
    .sort();
  return { lines, sent };
}

test('now() and nowMs(): the server gets real, differing times; seeded request logs stay identical', { timeout: 60_000 }, async () => {
  const startedAt = Date.now();
  const first = await run('first');
  const firstSeen = seen.splice(0);
  const second = await run('second');
  const secondSeen = seen.splice(0);
  assert.equal(first.sent.length, 20);
  assert.deepEqual(second.sent, first.sent);
  const logged = JSON.parse(first.lines[0] ?? '{}') as { target: string; body: string };
  assert.equal(logged.target, '/reading?sent={{ nowMs() }}');
  assert.match(logged.body, /^\{"at":"\{\{ now\(\) \}\}","ms":\{\{ nowMs\(\) \}\},"value":\d+,"label":"at \{\{ now\(\) \}\}"\}$/);
  for (const request of [...firstSeen, ...secondSeen]) {
    assert.ok(request.ms >= startedAt && request.ms <= Date.now(), `a real time: ${request.ms}`);
    // One time per request: the path, the ISO string and the number agree.
    assert.equal(request.sent, request.ms);
    assert.equal(request.at, new Date(request.ms).toISOString());
    assert.equal(request.label, `at ${request.at}`);
  }
  assert.equal(firstSeen.length, 20);
  assert.equal(secondSeen.length, 20);
  assert.ok(Math.min(...secondSeen.map((request) => request.ms)) > Math.max(...firstSeen.map((request) => request.ms)), 'the second run sent later times');
});
