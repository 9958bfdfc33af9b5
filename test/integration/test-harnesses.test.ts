import { test } from 'node:test';
import assert from 'node:assert/strict';
import { connect as connectTcp } from 'node:net';
import { connectAsync } from 'mqtt';
import type { IClientOptions, MqttClient } from 'mqtt';
import { mosquittoSkip, startMosquitto } from '../helpers/mosquitto.ts';
import { pollUntil } from '../helpers/poll.ts';
import { startScriptedBroker } from '../helpers/scripted-broker.ts';
import type { ScriptedBroker } from '../helpers/scripted-broker.ts';

async function client(url: string, options: IClientOptions = {}): Promise<MqttClient> {
  return connectAsync(url, { reconnectPeriod: 0, connectTimeout: 2_000, ...options }, false);
}

async function publishMany(url: string, count: number): Promise<void> {
  const publisher = await client(url);
  try {
    await Promise.all(Array.from({ length: count }, (_, i) => publisher.publishAsync('fleet/probe', `m${i}`, { qos: 1 })));
  } finally {
    await publisher.endAsync();
  }
}

function tcpRefused(port: number): Promise<string> {
  return new Promise((resolve) => {
    const socket = connectTcp(port, '127.0.0.1');
    socket.once('connect', () => {
      socket.destroy();
      resolve('connected');
    });
    socket.once('error', (error: NodeJS.ErrnoException) => resolve(error.code ?? error.message));
  });
}

test('mosquitto: counts publishes, dies on kill, comes back on the same port with a fresh counter', { skip: mosquittoSkip(), timeout: 60_000 }, async () => {
  const broker = await startMosquitto();
  try {
    assert.match(broker.url, /^mqtt:\/\/127\.0\.0\.1:\d+$/);
    assert.equal(broker.url, `mqtt://127.0.0.1:${broker.port}`);
    assert.equal(await broker.publishesReceived(), 0);

    await publishMany(broker.url, 25);
    assert.equal(await broker.publishesReceived(), 25);
    // Asking again with nothing new published must not hang waiting for a changed value.
    assert.equal(await broker.publishesReceived(), 25);

    await broker.kill();
    assert.equal(await tcpRefused(broker.port), 'ECONNREFUSED');
    await broker.kill();

    await broker.restart();
    await publishMany(broker.url, 3);
    assert.equal(await broker.publishesReceived(), 3, 'the counter lives in the process and starts again at 0');
    assert.match(broker.log(), /mosquitto version 2\.\S+ running/);
  } finally {
    await broker.stop();
  }
  await broker.stop();
  assert.equal(await tcpRefused(broker.port), 'ECONNREFUSED');
  await assert.rejects(broker.restart(), /stopped/);
});

test('mosquitto: stop after kill is safe, and nodelay can be switched off', { skip: mosquittoSkip(), timeout: 30_000 }, async () => {
  const broker = await startMosquitto({ nodelay: false });
  await publishMany(broker.url, 1);
  await broker.kill();
  await broker.stop();
  assert.match(broker.log(), /running/);
});

/** Publishes once and shows, once the broker has it, that no ack reaches the callback within 300 ms. */
async function assertNeverAcked(broker: ScriptedBroker, publisher: MqttClient, qos: 1 | 2, ack: string): Promise<void> {
  let settled = false;
  publisher.publish('fleet/probe', 'x', { qos }, () => {
    settled = true;
  });
  await pollUntil('the PUBLISH to arrive', () => broker.publishes === 1, 2_000);
  await assert.rejects(
    pollUntil(`${ack} that must not come`, () => settled, 300),
    /timed out/,
  );
}

test('scripted broker: puback never leaves the QoS 1 publish pending', async () => {
  const broker = await startScriptedBroker({ puback: 'never' });
  const publisher = await client(broker.url);
  try {
    await assertNeverAcked(broker, publisher, 1, 'a PUBACK');
    assert.equal(broker.publishes, 1);
    assert.equal(broker.connects, 1);
  } finally {
    await publisher.endAsync(true);
    await broker.close();
  }
});

test('scripted broker: a v5 PUBACK reason code >= 0x80 fails the publish callback', async () => {
  const broker = await startScriptedBroker({ puback: { reasonCode: 0x87 } });
  const v5 = await client(broker.url, { protocolVersion: 5 });
  const v4 = await client(broker.url, { protocolVersion: 4 });
  try {
    await assert.rejects(v5.publishAsync('fleet/probe', 'x', { qos: 1 }), { message: 'Publish error: Not authorized', code: 0x87 });
    // v3.1.1 has no reason codes, so the same script acknowledges normally there.
    await v4.publishAsync('fleet/probe', 'x', { qos: 1 });
    assert.equal(broker.publishes, 2);
  } finally {
    await v5.endAsync(true);
    await v4.endAsync(true);
    await broker.close();
  }
});

test('scripted broker: a delayed PUBACK arrives no earlier than asked', async () => {
  const broker = await startScriptedBroker({ puback: { delayMs: 150 } });
  const publisher = await client(broker.url);
  try {
    const started = performance.now();
    await publisher.publishAsync('fleet/probe', 'x', { qos: 1 });
    assert.ok(performance.now() - started >= 140);
  } finally {
    await publisher.endAsync(true);
    await broker.close();
  }
});

test('scripted broker: dropAll closes every client connection', async () => {
  const broker = await startScriptedBroker({});
  const first = await client(broker.url);
  const second = await client(broker.url, { protocolVersion: 5 });
  try {
    const closed = Promise.all([first, second].map((c) => new Promise<void>((resolve) => c.once('close', () => resolve()))));
    broker.dropAll();
    await closed;
    assert.equal(broker.connects, 2);
  } finally {
    await first.endAsync(true);
    await second.endAsync(true);
    await broker.close();
  }
});

test('scripted broker: QoS 2 completes, subscribe and ping are answered, on v3.1.1 and v5', async () => {
  const broker = await startScriptedBroker({});
  try {
    for (const protocolVersion of [4, 5] as const) {
      const c = await client(broker.url, { protocolVersion, keepalive: 1 });
      const grants = await c.subscribeAsync({ 'a/b': { qos: 2 }, 'c/d': { qos: 1 } });
      assert.deepEqual(
        grants.map((g) => g.qos),
        [2, 1],
      );
      await c.publishAsync('fleet/probe', 'x', { qos: 2 });
      await c.unsubscribeAsync('a/b');
      let pong = false;
      c.on('packetreceive', (packet) => {
        if (packet.cmd === 'pingresp') pong = true;
      });
      await pollUntil('a PINGRESP (keepalive 1 s)', () => pong, 3_000);
      assert.equal(c.connected, true);
      await c.endAsync();
    }
    assert.equal(broker.publishes, 2);
  } finally {
    await broker.close();
  }
});

test('scripted broker: pubcomp never leaves QoS 2 pending; refused and unanswered CONNECTs fail', async () => {
  const silent = await startScriptedBroker({ pubcomp: 'never' });
  const refusing = await startScriptedBroker({ connack: { returnCode: 5 } });
  const mute = await startScriptedBroker({ connack: 'never' });
  const publisher = await client(silent.url);
  try {
    await assertNeverAcked(silent, publisher, 2, 'a PUBCOMP');
    await assert.rejects(client(refusing.url), /Connection refused: Not authorized/);
    await assert.rejects(client(mute.url, { connectTimeout: 300 }), /connack timeout/);
    assert.equal(mute.connects, 1);
  } finally {
    await publisher.endAsync(true);
    await Promise.all([silent.close(), refusing.close(), mute.close()]);
  }
});
