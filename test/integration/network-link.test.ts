import assert from 'node:assert/strict';
import { once } from 'node:events';
import { createConnection, createServer } from 'node:net';
import type { AddressInfo, Server, Socket } from 'node:net';
import { performance } from 'node:perf_hooks';
import { test } from 'node:test';
import { deviceRandom } from '../../src/identity/rng.ts';
import { shape, ShapedStream } from '../../src/transport/link/shaped-stream.ts';
import type { LinkConditions } from '../../src/transport/link/link-conditions.ts';
import { pollUntil } from '../helpers/poll.ts';

function link(fields: Partial<LinkConditions>): LinkConditions {
  return { name: 'test', latencyMs: 0, jitterMs: 0, uplinkBps: undefined, downlinkBps: undefined, drops: undefined, random: deviceRandom('7', 0), ...fields };
}

async function listen(onSocket: (socket: Socket) => void): Promise<{ server: Server; port: number }> {
  const server = createServer(onSocket);
  server.listen(0, '127.0.0.1');
  await once(server, 'listening');
  return { server, port: (server.address() as AddressInfo).port };
}

test('a 600 ms ± 50 ms link: the server sees each message 600 ms after it was sent, within 10%', async () => {
  // The server timestamps each 8-byte message's arrival; the message carries its send time.
  const delays: number[] = [];
  const { server, port } = await listen((socket) => {
    let pending = Buffer.alloc(0);
    socket.on('data', (chunk: Buffer) => {
      const arrived = performance.now();
      pending = Buffer.concat([pending, chunk]);
      while (pending.length >= 8) {
        delays.push(arrived - pending.readDoubleBE(0));
        pending = pending.subarray(8);
      }
    });
  });
  const shaped = new ShapedStream(createConnection({ host: '127.0.0.1', port }), link({ latencyMs: 600, jitterMs: 50 }), 'connect');
  const openedAt = performance.now();
  await once(shaped, 'connect');
  // The handshake took one round trip of the link.
  const handshake = performance.now() - openedAt;
  assert.ok(handshake >= 1100 && handshake < 2000, `handshake ${handshake} ms`);
  const sent = 40;
  for (let i = 0; i < sent; i++) {
    const message = Buffer.alloc(8);
    message.writeDoubleBE(performance.now());
    shaped.write(message);
    await new Promise((resolve) => setTimeout(resolve, 15));
  }
  await pollUntil('every message at the server', () => delays.length === sent, 5000);
  shaped.destroy();
  server.close();
  const mean = delays.reduce((sum, d) => sum + d, 0) / delays.length;
  assert.ok(Math.abs(mean - 600) <= 60, `mean one-way delay ${mean.toFixed(1)} ms, declared 600`);
  // Jitter spreads the delays, never below the declared 600 - 50 ms; above 650 ms only by how late this machine's timers fire.
  assert.ok(Math.min(...delays) >= 549, `min ${Math.min(...delays)}`);
  assert.ok(Math.max(...delays) < 1000, `max ${Math.max(...delays)}`);
  assert.ok(Math.max(...delays) - Math.min(...delays) > 20, 'the delays vary with the jitter');
});

test('a 10 kbit/s uplink scaled by 20: 100 KB takes 80 s / 20 = 4 s at the server, within 10%', async () => {
  // 100 KB at 200 kbit/s is 800,000 bits / 200,000 bit/s = 4 s: the 80 s at 10 kbit/s, 20 times faster.
  const total = 100_000;
  let received = 0;
  let firstAt = 0;
  let lastAt = 0;
  const { server, port } = await listen((socket) => {
    socket.on('data', (chunk: Buffer) => {
      if (received === 0) firstAt = performance.now();
      received += chunk.length;
      if (received === total) lastAt = performance.now();
    });
  });
  const shaped = new ShapedStream(createConnection({ host: '127.0.0.1', port }), link({ uplinkBps: 200_000 }), 'connect');
  await once(shaped, 'connect');
  const started = performance.now();
  let writtenAt = 0;
  shaped.write(Buffer.alloc(total, 1), () => (writtenAt = performance.now()));
  await pollUntil('100 KB at the server', () => received === total, 10_000);
  shaped.destroy();
  server.close();
  const took = lastAt - started;
  assert.ok(Math.abs(took - 4000) <= 400, `100 KB took ${took.toFixed(0)} ms, declared 4000`);
  // Spread over the time, as packets are, not one burst at the end.
  assert.ok(lastAt - firstAt > 3000, `arrivals spread over ${(lastAt - firstAt).toFixed(0)} ms`);
  // The writer heard its bytes had left only when the link had sent them.
  assert.ok(writtenAt - started > 3600, `write called back after ${(writtenAt - started).toFixed(0)} ms`);
});

test('a downlink cap and delay apply to what the device receives', async () => {
  const { server, port } = await listen((socket) => socket.end(Buffer.alloc(20_000, 2)));
  // The server sends at once: the bytes' time on the link runs from the inner socket's connect.
  const started = performance.now();
  const shaped = new ShapedStream(createConnection({ host: '127.0.0.1', port }), link({ latencyMs: 100, downlinkBps: 800_000 }), 'connect');
  let bytes = 0;
  shaped.on('data', (chunk: Buffer) => (bytes += chunk.length));
  await once(shaped, 'end');
  const took = performance.now() - started;
  assert.equal(bytes, 20_000);
  // 20,000 bytes at 800 kbit/s is 200 ms, plus 100 ms on the way.
  assert.ok(took >= 280 && took < 800, `took ${took.toFixed(0)} ms`);
  shaped.destroy();
  server.close();
});

test('scheduled drops reset the connection with a named error', async () => {
  const { server, port } = await listen(() => undefined);
  const shaped = new ShapedStream(createConnection({ host: '127.0.0.1', port }), link({ drops: { kind: 'at', atMs: [performance.now() + 200] } }), 'connect');
  await once(shaped, 'connect');
  const [error] = (await once(shaped, 'error')) as [Error & { code?: string }];
  assert.equal(error.code, 'SIMULATED_LINK_DROP');
  server.close();
});

test('a connection destroyed with bytes still on a capped uplink calls their writes back with an error', async () => {
  const { server, port } = await listen(() => undefined);
  const shaped = new ShapedStream(createConnection({ host: '127.0.0.1', port }), link({ uplinkBps: 8000 }), 'connect');
  await once(shaped, 'connect');
  shaped.on('error', () => undefined);
  const written = new Promise<Error | null | undefined>((resolve) => shaped.write(Buffer.alloc(10_000), resolve));
  shaped.destroy();
  const error = await written;
  assert.ok(error instanceof Error, 'the write failed');
  server.close();
});

test('without a link the socket is used as it is: no wrapper, no cost', async () => {
  const { server, port } = await listen((socket) => socket.end());
  const socket = createConnection({ host: '127.0.0.1', port });
  assert.equal(shape(socket, undefined, 'connect'), socket);
  await once(socket, 'close');
  server.close();
});

test("TLS over a link: the handshake's round trips cross it, then data flows both ways", async () => {
  const { readFileSync } = await import('node:fs');
  const tls = await import('node:tls');
  const fixtures = new URL('../fixtures/tls/', import.meta.url);
  const server = tls.createServer({ cert: readFileSync(new URL('server.crt', fixtures)), key: readFileSync(new URL('server.key', fixtures)) }, (socket) => socket.pipe(socket));
  server.listen(0, '127.0.0.1');
  await once(server, 'listening');
  const { port } = server.address() as AddressInfo;
  const started = performance.now();
  const raw = new ShapedStream(createConnection({ host: '127.0.0.1', port }), link({ latencyMs: 50 }), 'connect');
  const secure = tls.connect({ socket: raw, ca: readFileSync(new URL('ca.crt', fixtures)), servername: 'localhost' });
  await once(secure, 'secureConnect');
  const handshake = performance.now() - started;
  // TCP's round trip and TLS 1.3's one (and a bit): each 100 ms over this link.
  assert.ok(handshake >= 190, `handshake took ${handshake.toFixed(0)} ms`);
  secure.write('ping');
  const echoedAt = performance.now();
  const [echo] = (await once(secure, 'data')) as [Buffer];
  assert.equal(echo.toString(), 'ping');
  assert.ok(performance.now() - echoedAt >= 95, 'the echo took a round trip');
  secure.destroy();
  server.close();
});

test('drops at a rate: seeded exponential times, the same for the same seed', async () => {
  const { server, port } = await listen(() => undefined);
  const dropAfter = async (seed: string): Promise<number> => {
    const shaped = new ShapedStream(createConnection({ host: '127.0.0.1', port }), link({ drops: { kind: 'rate', meanIntervalMs: 200 }, random: deviceRandom(seed, 3) }), 'connect');
    await once(shaped, 'connect');
    const connected = performance.now();
    const [error] = (await once(shaped, 'error')) as [Error & { code?: string }];
    assert.equal(error.code, 'SIMULATED_LINK_DROP');
    return performance.now() - connected;
  };
  const first = await dropAfter('11');
  const again = await dropAfter('11');
  // Timers fire a little late; the drawn time is the same.
  assert.ok(Math.abs(first - again) < 40, `${first.toFixed(0)} ms then ${again.toFixed(0)} ms`);
  server.close();
});
