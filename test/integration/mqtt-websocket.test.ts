import assert from 'node:assert/strict';
import { copyFile, mkdir, readFile } from 'node:fs/promises';
import { createServer as createHttpsServer } from 'node:https';
import path from 'node:path';
import type { TLSSocket } from 'node:tls';
import { after, before, describe, test } from 'node:test';
import { connect as tcpConnect } from 'node:net';
import type { AddressInfo } from 'node:net';
import { pipeline } from 'node:stream';
import { connectAsync } from 'mqtt';
import { WebSocketServer, createWebSocketStream } from 'ws';
import { MqttFixture } from '../../broker-fixture/index.ts';
import type { Results } from '../../src/metrics/results.ts';
import { checkBrokerUrl } from '../../src/profile/target-url.ts';
import { MqttSession } from '../../src/transport/mqtt/mqtt.ts';
import type { SessionListener } from '../../src/transport/mqtt/mqtt.ts';
import { Aedes } from 'aedes';
import { ROOT, runCli } from '../helpers/cli.ts';
import { mosquittoSkip, startMosquitto } from '../helpers/mosquitto.ts';
import { pollUntil } from '../helpers/poll.ts';
import { TempDir } from '../helpers/temp-files.ts';

/** MQTT over WebSocket: the same client on a ws:// stream, against the embedded Aedes listening over WebSocket. */

const fixture = new MqttFixture({ otaAfterMs: 0 });
let wsUrl = '';
let tcpUrl = '';
let temp: TempDir;
before(async () => {
  temp = await TempDir.create();
  tcpUrl = await fixture.listen(0);
  wsUrl = await fixture.listenWebSocket(0);
});
after(async () => {
  await fixture.close();
  await temp.remove();
});

class Recorder implements SessionListener {
  readonly connects: string[] = [];
  readonly losses: string[] = [];
  readonly messages: string[] = [];
  connectEnded(outcome: string, error: string | undefined): void {
    this.connects.push(error ?? outcome);
  }
  connectionLost(reason: string): void {
    this.losses.push(reason);
  }
  message(topic: string, payload: Buffer): void {
    this.messages.push(`${topic}=${payload.toString()}`);
  }
}

describe('MQTT over WebSocket', () => {
  test('a session over ws:// connects, publishes at QoS 0, 1 and 2, subscribes and receives', { timeout: 20_000 }, async () => {
    const heard = new Recorder();
    const session = new MqttSession(heard);
    const { hostname, port } = new URL(wsUrl);
    session.connect({
      host: hostname,
      port: Number(port),
      webSocketUrl: wsUrl,
      tls: undefined,
      clientId: 'ws-session',
      protocolVersion: 4,
      clean: true,
      keepaliveS: 30,
      username: undefined,
      password: undefined,
      will: undefined,
      connectTimeoutMs: 5_000,
    });
    await pollUntil('the CONNECT over WebSocket', () => heard.connects.length > 0);
    assert.deepEqual(heard.connects, ['ok']);
    const acked = (call: (done: (error?: string) => void) => void): Promise<string | undefined> => new Promise((resolve) => call(resolve));
    assert.equal(await acked((done) => session.subscribe('ws/down/#', 1, done)), undefined);
    const before = fixture.counts.publishesReceived;
    const answers = await Promise.all([0, 1, 2].map((qos) => acked((done) => session.publish(`ws/up/${qos}`, `q${qos}`, qos as 0 | 1 | 2, false, 5_000, done))));
    assert.deepEqual(answers, [undefined, undefined, undefined]);
    await pollUntil('the QoS 0 publish at the broker too', () => fixture.counts.publishesReceived - before === 3);
    const peer = await connectAsync(tcpUrl, { reconnectPeriod: 0 }, false);
    await peer.publishAsync('ws/down/1', 'over tcp, out over ws', { qos: 1 });
    await peer.endAsync(true);
    await pollUntil('the message delivered over WebSocket', () => heard.messages.length === 1);
    assert.deepEqual(heard.messages, ['ws/down/1=over tcp, out over ws']);
    await session.close(true);
    assert.deepEqual(heard.losses, []);
  });

  test('a connection refused at the WebSocket upgrade fails the CONNECT by name', { timeout: 20_000 }, async () => {
    const heard = new Recorder();
    const session = new MqttSession(heard);
    const wrongPath = wsUrl.replace('/mqtt', '/nothing-here');
    const { hostname, port } = new URL(wrongPath);
    session.connect({
      host: hostname,
      port: Number(port),
      webSocketUrl: wrongPath,
      tls: undefined,
      clientId: 'ws-404',
      protocolVersion: 4,
      clean: true,
      keepaliveS: 30,
      username: undefined,
      password: undefined,
      will: undefined,
      connectTimeoutMs: 5_000,
    });
    await pollUntil('the CONNECT to fail', () => heard.connects.length > 0);
    assert.match(heard.connects[0] ?? '', /Unexpected server response: 400/);
    await session.close(false);
  });

  test('lamps over ws://: every publish acked, and the broker counted each one', { timeout: 60_000 }, async () => {
    const device = `kind: device
name: lamp
identity: { scheme: sequential-hex, base: "0x1e0000000000", width: 12 }
tasks:
  - name: lamp/changed
    repeat: 10
    publish: { topic: "devices/{{ device.id }}/lamp/changed", qos: 1, json: { brightness: "{{ float(0, 1) }}" } }
wait: { model: constant, time: 20ms }
`;
    await temp.write('ws-lamp.device.yaml', device);
    const profile = await temp.write('ws-lamps.yaml', 'kind: profile\nseed: 5\nfleet:\n  - device: ws-lamp.device.yaml\n    count: 20\nspawnRate: 200\n');
    const json = temp.file('ws-lamps.json');
    const connectsBefore = fixture.counts.connects;
    const publishesBefore = fixture.counts.publishesReceived;
    const result = await runCli(['run', profile, '--broker', wsUrl, '--iterations', '10', '--json', json, '--quiet'], 50_000);
    assert.equal(result.code, 0, result.stderr);
    const results = JSON.parse(await readFile(json, 'utf8')) as Results;
    const publish = results.stats.find((row) => row.type === 'PUBLISH');
    assert.equal(publish?.requests, 20 * 10 * 10);
    assert.equal(results.total.failures, 0, JSON.stringify(results.failures));
    assert.equal(fixture.counts.publishesReceived - publishesBefore, publish.requests - publish.failures);
    assert.equal(fixture.counts.connects - connectsBefore, 20);
  });
});

/**
 * A WebSocket-to-TCP gateway, as a load balancer terminating WebSocket in front of a broker would be:
 * Debian's Mosquitto 2.0.11 cannot open a websockets listener here, so the WebSocket ends at the gateway.
 */
async function startGateway(brokerPort: number): Promise<{ url: string; close: () => Promise<void> }> {
  const server = new WebSocketServer({ host: '127.0.0.1', port: 0, path: '/mqtt', perMessageDeflate: false, handleProtocols: (protocols) => (protocols.has('mqtt') ? 'mqtt' : false) });
  server.on('connection', (socket) => {
    const upstream = tcpConnect({ host: '127.0.0.1', port: brokerPort, noDelay: true });
    const stream = createWebSocketStream(socket);
    pipeline(stream, upstream, stream, () => undefined);
  });
  await new Promise<void>((resolve) => server.once('listening', resolve));
  const { port } = server.address() as AddressInfo;
  return {
    url: `ws://127.0.0.1:${port}/mqtt`,
    close: async () => {
      for (const client of server.clients) client.terminate();
      await new Promise<void>((resolve) => server.close(() => resolve()));
    },
  };
}

const skip = mosquittoSkip();

describe('MQTT over WebSocket into Mosquitto, through a WebSocket-to-TCP gateway', { skip }, () => {
  test('lamps over ws:// on MQTT 5: the broker received what fleetsim counted as acked', { timeout: 60_000 }, async () => {
    const broker = await startMosquitto();
    const gateway = await startGateway(broker.port);
    try {
      const device = `kind: device
name: lamp
identity: { scheme: sequential-hex, base: "0x1e0000000000", width: 12 }
mqtt: { version: "5" }
tasks:
  - name: lamp/changed
    repeat: 10
    publish: { topic: "devices/{{ device.id }}/lamp/changed", qos: 1, json: { brightness: "{{ float(0, 1) }}" } }
wait: { model: constant, time: 20ms }
`;
      await temp.write('gw-lamp.device.yaml', device);
      const profile = await temp.write('gw-lamps.yaml', 'kind: profile\nseed: 5\nfleet:\n  - device: gw-lamp.device.yaml\n    count: 20\nspawnRate: 200\n');
      const json = temp.file('gw-lamps.json');
      const result = await runCli(['run', profile, '--broker', gateway.url, '--iterations', '10', '--json', json, '--quiet'], 50_000);
      assert.equal(result.code, 0, result.stderr);
      const results = JSON.parse(await readFile(json, 'utf8')) as Results;
      const publish = results.stats.find((row) => row.type === 'PUBLISH');
      assert.equal(publish?.requests, 20 * 10 * 10);
      assert.equal(results.total.failures, 0, JSON.stringify(results.failures));
      assert.equal(await broker.publishesReceived(), publish.requests - publish.failures);
    } finally {
      await gateway.close();
      await broker.stop();
    }
  });
});

describe('MQTT over wss://', () => {
  test('lamps over wss:// with a private CA and a client certificate per device: every publish acked and counted', { timeout: 60_000 }, async () => {
    const tlsDir = path.join(ROOT, 'test/fixtures/tls');
    const pem = (name: string): Promise<Buffer> => readFile(path.join(tlsDir, name));
    const broker = await Aedes.createBroker();
    let publishes = 0;
    const certificates = new Set<string>();
    broker.on('publish', (_packet, client) => {
      if (client) publishes++;
    });
    // The TLS handshake demands a client certificate signed by the CA before the upgrade is even read.
    const https = createHttpsServer({ key: await pem('server.key'), cert: await pem('server.crt'), ca: await pem('ca.crt'), requestCert: true, rejectUnauthorized: true });
    const server = new WebSocketServer({ server: https, path: '/mqtt', handleProtocols: (protocols) => (protocols.has('mqtt') ? 'mqtt' : false) });
    server.on('connection', (socket, request) => {
      const subject = (request.socket as TLSSocket).getPeerCertificate().subject?.CN;
      certificates.add(String(subject));
      broker.handle(createWebSocketStream(socket));
    });
    await new Promise<void>((resolve) => https.listen(0, '127.0.0.1', resolve));
    const url = `wss://127.0.0.1:${(https.address() as AddressInfo).port}/mqtt`;
    try {
      await mkdir(temp.file('wss-certs'), { recursive: true });
      for (const id of ['1e0000000000', '1e0000000001', '1e0000000002']) {
        await copyFile(path.join(tlsDir, 'client.crt'), temp.file(`wss-certs/${id}.crt`));
        await copyFile(path.join(tlsDir, 'client.key'), temp.file(`wss-certs/${id}.key`));
      }
      await copyFile(path.join(tlsDir, 'ca.crt'), temp.file('wss-ca.crt'));
      await temp.write(
        'wss-lamp.device.yaml',
        `kind: device
name: lamp
identity: { scheme: sequential-hex, base: "0x1e0000000000", width: 12 }
tasks:
  - name: lamp/changed
    repeat: 5
    publish: { topic: "devices/{{ device.id }}/lamp/changed", qos: 1, payload: "{{ float(0, 1) }}" }
`,
      );
      const profile = await temp.write(
        'wss-lamps.yaml',
        `kind: profile
seed: 3
fleet:
  - device: wss-lamp.device.yaml
    count: 3
mqtt:
  tls:
    ca: wss-ca.crt
    cert: "wss-certs/{{ device.id }}.crt"
    key: "wss-certs/{{ device.id }}.key"
`,
      );
      const json = temp.file('wss-lamps.json');
      const result = await runCli(['run', profile, '--broker', url, '--iterations', '4', '--json', json, '--quiet'], 40_000);
      assert.equal(result.code, 0, result.stderr);
      const results = JSON.parse(await readFile(json, 'utf8')) as Results;
      assert.equal(results.total.failures, 0, JSON.stringify(results.failures));
      assert.equal(results.stats.find((row) => row.type === 'PUBLISH')?.requests, 3 * 4 * 5);
      assert.equal(publishes, 3 * 4 * 5);
      assert.deepEqual([...certificates], ['device-client']);
    } finally {
      for (const client of server.clients) client.terminate();
      await new Promise<void>((resolve) => server.close(() => resolve()));
      await new Promise<void>((resolve) => https.close(() => resolve()));
      await new Promise<void>((resolve) => broker.close(() => resolve()));
    }
  });
});

describe('broker URLs', () => {
  const fail = (problem: string): Error => new Error(problem);
  test('ws:// and wss:// take a path; mqtt:// does not, and none takes a query', () => {
    assert.equal(checkBrokerUrl('ws://127.0.0.1:8080/mqtt', fail), 'ws://127.0.0.1:8080/mqtt');
    assert.equal(checkBrokerUrl('wss://broker.example.com/mqtt', fail), 'wss://broker.example.com/mqtt');
    assert.throws(() => checkBrokerUrl('ws://127.0.0.1:8080/mqtt?token=x', fail), /without query or fragment/);
    assert.throws(() => checkBrokerUrl('mqtt://127.0.0.1:1883/mqtt', fail), /a path is for ws:\/\/ and wss:\/\//);
    assert.throws(() => checkBrokerUrl('http://127.0.0.1:1883', fail), /expected an mqtt:\/\/ or mqtts:\/\/ or ws:\/\/ or wss:\/\/ URL/);
    assert.throws(
      () => checkBrokerUrl('wss://user:secret@broker.example.com/mqtt', fail),
      (error: Error) => !error.message.includes('secret'),
    );
  });

  test('--broker with a bad ws:// URL: exit 2, one line naming the flag', { timeout: 30_000 }, async () => {
    const result = await runCli(['run', 'profiles/lamp.yaml', '--broker', 'ws://127.0.0.1:1/mqtt#frag', '-t', '1s'], 20_000);
    assert.equal(result.code, 2, result.stderr);
    assert.match(result.stderr, /--broker: a WebSocket broker URL is scheme, host, port and path/);
    assert.doesNotMatch(result.stderr, /^\s+at /m);
  });
});
