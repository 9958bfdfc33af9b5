import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { createServer as createHttpServer } from 'node:http';
import { createServer } from 'node:net';
import type { AddressInfo, Server, Socket } from 'node:net';
import { Aedes } from 'aedes';
import type { Client } from 'aedes';
import { WebSocketServer, createWebSocketStream } from 'ws';
import { HttpFixture } from '../../broker-fixture/index.ts';
import { HttpTransport } from '../../src/transport/http/http.ts';
import { HTTP_CLIENTS } from '../helpers/http-clients.ts';
import { MqttSession } from '../../src/transport/mqtt/mqtt.ts';
import { runCli } from '../helpers/cli.ts';
import { pollUntil } from '../helpers/poll.ts';

/** All of 127.0.0.0/8 is loopback on Linux: three source addresses without configuring any. */
const SOURCES = ['127.0.0.1', '127.0.0.2', '127.0.0.3'];
const sourceOf = (index: number): string => SOURCES[index % SOURCES.length] as string;
/** Node reports an IPv4 peer of a dual-stack socket as ::ffff:a.b.c.d. */
const plain = (address: string | undefined): string => (address ?? '').replace(/^::ffff:/, '');

let http: HttpFixture;
let httpUrl: string;
/** Each request's device id (from its path) and the address its connection came from. */
const greets = new Map<string, string>();
const httpPeers = new Set<string>();
let aedes: Aedes;
let broker: Server;
let brokerUrl: string;
/** Each publishing device's index (from its topic) and the addresses its publishes came from. */
const publishers = new Map<number, Set<string>>();
const brokerPeers = new Set<string>();

before(async () => {
  http = new HttpFixture();
  http.server.on('connection', (socket: Socket) => httpPeers.add(plain(socket.remoteAddress)));
  http.server.on('request', (request: { url?: string; socket: Socket }) => {
    const id = /^\/greet\?id=([0-9a-f]+)/.exec(request.url ?? '')?.[1];
    if (id) greets.set(id, plain(request.socket.remoteAddress));
  });
  httpUrl = await http.listen(0);
  aedes = await Aedes.createBroker();
  aedes.on('publish', (packet, client: Client | null) => {
    const id = /^devices\/([0-9a-f]+)\/lamp\/changed$/.exec(packet.topic)?.[1];
    if (!id || !client) return;
    const index = Number.parseInt(id, 16) - 0x1e0000000000;
    const seen = publishers.get(index) ?? new Set<string>();
    seen.add(plain((client.conn as Socket).remoteAddress));
    publishers.set(index, seen);
  });
  broker = createServer((socket) => {
    brokerPeers.add(plain(socket.remoteAddress));
    aedes.handle(socket);
  });
  await new Promise<void>((resolve) => broker.listen(0, '127.0.0.1', resolve));
  brokerUrl = `mqtt://127.0.0.1:${(broker.address() as AddressInfo).port}`;
});
after(async () => {
  await http.close();
  broker.close();
  await new Promise<void>((resolve) => aedes.close(() => resolve()));
});

/** Device index → id, as the run derives them. */
async function idsOf(profile: string, devices: number): Promise<string[]> {
  const ids = await runCli(['ids', profile, '-u', String(devices), '--seed', '5']);
  assert.equal(ids.code, 0, ids.stderr);
  return ids.stdout
    .trim()
    .split('\n')
    .slice(1)
    .map((line) => line.split(',')[1] ?? '');
}

test('HTTP: device i connects from address i mod 3, with the shared pool and with --workers 2', { timeout: 90_000 }, async () => {
  const ids = await idsOf('profiles/iot-node-flat-out.yaml', 12);
  for (const workers of [[], ['--workers', '2']]) {
    greets.clear();
    httpPeers.clear();
    const result = await runCli([
      'run',
      'profiles/iot-node-flat-out.yaml',
      '--target',
      httpUrl,
      '-u',
      '12',
      '--iterations',
      '2',
      '--seed',
      '5',
      '--local-ips',
      SOURCES.join(','),
      '--quiet',
      ...workers,
    ]);
    assert.equal(result.code, 0, result.stderr);
    assert.deepEqual([...httpPeers].sort(), SOURCES, `connections came from ${[...httpPeers].join(', ')}`);
    assert.equal(greets.size, 12);
    ids.forEach((id, index) => assert.equal(greets.get(id), sourceOf(index), `device ${index} (${id}) ${workers.join(' ')}`));
  }
});

for (const client of HTTP_CLIENTS)
  test(`HTTP with a connection per device: each device's own connection is bound to its address (http.client: ${client})`, { timeout: 20_000 }, async () => {
    greets.clear();
    const transport = new HttpTransport(httpUrl, { connections: 1, connectionPerDevice: true, timeoutMs: 5_000, client }, SOURCES);
    try {
      const sent = await Promise.all(
        [0, 1, 2, 3, 4].map((deviceIndex) => transport.send({ deviceIndex, method: 'GET', path: `/greet?id=${deviceIndex}`, headers: {}, body: undefined, timeoutMs: 5_000 })),
      );
      assert.deepEqual(
        sent.map((result) => result.outcome),
        ['ok', 'ok', 'ok', 'ok', 'ok'],
      );
      assert.deepEqual(
        [0, 1, 2, 3, 4].map((index) => greets.get(String(index))),
        [0, 1, 2, 3, 4].map(sourceOf),
      );
    } finally {
      await transport.close();
    }
  });

test('MQTT: each device keeps its session from address i mod 3', { timeout: 60_000 }, async () => {
  const result = await runCli(['run', 'profiles/lamp.yaml', '--broker', brokerUrl, '-u', '9', '-r', '100', '--iterations', '1', '--seed', '5', '--local-ips', SOURCES.join(','), '--quiet']);
  assert.equal(result.code, 0, result.stderr);
  assert.deepEqual([...brokerPeers].sort(), SOURCES);
  assert.deepEqual(
    [...publishers].sort(([a], [b]) => a - b).map(([index, addresses]) => [index, [...addresses]]),
    Array.from({ length: 9 }, (_, index) => [index, [sourceOf(index)]]),
  );
});

test('MQTT over WebSocket binds its connection to the source address too', { timeout: 20_000 }, async () => {
  const peers: string[] = [];
  const server = createHttpServer();
  const wss = new WebSocketServer({ server });
  wss.on('connection', (socket, request) => {
    peers.push(plain(request.socket.remoteAddress));
    aedes.handle(createWebSocketStream(socket));
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const url = `ws://127.0.0.1:${(server.address() as AddressInfo).port}/mqtt`;
  const connects: string[] = [];
  const session = new MqttSession({ connectEnded: (outcome, error) => connects.push(error ?? outcome), connectionLost: () => undefined, message: () => undefined });
  try {
    session.connect({
      host: '127.0.0.1',
      port: 0,
      webSocketUrl: url,
      tls: undefined,
      clientId: 'ws-bound',
      protocolVersion: 4,
      clean: true,
      keepaliveS: 30,
      username: undefined,
      password: undefined,
      will: undefined,
      connectTimeoutMs: 5_000,
      localAddress: '127.0.0.3',
    });
    await pollUntil('the CONNECT over WebSocket', () => connects.length > 0);
    assert.deepEqual(connects, ['ok']);
    assert.deepEqual(peers, ['127.0.0.3']);
  } finally {
    await session.close(true);
    wss.close();
    server.closeAllConnections();
    server.close();
  }
});

test('an address this host does not have, a non-address or a repeat exits 2, naming it', { timeout: 60_000 }, async () => {
  const cases: [string[], RegExp][] = [
    [['--local-ips', '127.0.0.1,198.51.100.7'], /--local-ips: 198\.51\.100\.7 is not an address of this host's interfaces \(they have 127\.0\.0\.1, /],
    [['--local-ips', '127.0.0.1,nope'], /--local-ips: 'nope' is not an IP address/],
    [['--local-ips', '127.0.0.2,127.0.0.2'], /--local-ips: 127\.0\.0\.2 is listed twice/],
    [['--local-ips', '198.51.100.7', '--workers', '2'], /--local-ips: 198\.51\.100\.7 is not an address/],
  ];
  for (const [flags, message] of cases) {
    const result = await runCli(['run', 'profiles/iot-node-flat-out.yaml', '--target', httpUrl, '-u', '2', '--iterations', '1', ...flags]);
    assert.equal(result.code, 2, `${flags.join(' ')}: ${result.stderr}`);
    assert.match(result.stderr, message);
    assert.doesNotMatch(result.stderr, /\n\s+at /, 'no stack trace');
  }
});
