import assert from 'node:assert/strict';
import { after, describe, test } from 'node:test';
import { connectAsync } from 'mqtt';
import type { IClientOptions, MqttClient } from 'mqtt';
import { MqttFixture } from '../../broker-fixture/index.ts';
import { pollUntil } from '../helpers/poll.ts';

const clients: MqttClient[] = [];
after(async () => {
  await Promise.all(clients.map((client) => client.endAsync(true)));
});

async function connect(url: string, options: IClientOptions = {}): Promise<MqttClient> {
  const client = await connectAsync(url, { reconnectPeriod: 0, ...options }, false);
  clients.push(client);
  return client;
}

function nextMessage(client: MqttClient): Promise<{ topic: string; payload: string; qos: number }> {
  return new Promise((resolve) => client.once('message', (topic, payload, packet) => resolve({ topic, payload: payload.toString(), qos: packet.qos })));
}

describe('MqttFixture', () => {
  test('counts two devices’ publishes exactly, by QoS and folded topic, and sends one OTA command', { timeout: 20_000 }, async () => {
    const fixture = new MqttFixture({ otaAfterMs: 50 });
    const url = await fixture.listen(0);
    try {
      assert.match(url, /^mqtt:\/\/127\.0\.0\.1:\d+$/);
      const lamp = await connect(url, { clientId: 'lamp-1e0000000abc' });
      const sensor = await connect(url, { clientId: 'sensor-abc123def' });
      // A wildcard subscription is a backend listening, not a device: it gets no command of its own,
      // and it subscribes first so a command wrongly scheduled for it would fire before the device's.
      await lamp.subscribeAsync('devices/+/ota', { qos: 1 });
      const seenByWildcard = nextMessage(lamp);
      const command = nextMessage(sensor);
      await sensor.subscribeAsync('devices/abc123def/ota', { qos: 1 });

      await lamp.publishAsync('devices/1e0000000abc/lamp/changed', 'on', { qos: 0 });
      await lamp.publishAsync('devices/1e0000000abc/lamp/changed', 'off', { qos: 0 });
      await lamp.publishAsync('devices/1e0000000abc/lamp/changed', 'on', { qos: 1 });
      await sensor.publishAsync('devices/abc123def/telemetry', '{"t":21.5}', { qos: 1 });
      await sensor.publishAsync('devices/42/telemetry', '{"t":19}', { qos: 2 });
      await sensor.publishAsync('status/all', 'ok', { qos: 2 });

      const ota = await command;
      assert.equal(ota.topic, 'devices/abc123def/ota');
      assert.equal(ota.qos, 1);
      assert.deepEqual(JSON.parse(ota.payload), { command: 'update', version: '2.0.1', job: 'job-1' });
      assert.equal((await seenByWildcard).topic, 'devices/abc123def/ota');

      await pollUntil('the QoS 0 publishes', () => fixture.counts.publishesReceived >= 6);
      await lamp.endAsync();
      await pollUntil('the clean disconnect', () => fixture.counts.disconnects >= 1);
      // Exact: neither the OTA command nor Aedes's own $SYS messages count as received.
      assert.deepEqual(fixture.counts, {
        connects: 2,
        disconnects: 1,
        publishesReceived: 6,
        publishesByQos: { 0: 2, 1: 2, 2: 2 },
        subscribes: 2,
        otaCommandsSent: 1,
        topics: { 'devices/+/lamp/changed': 3, 'devices/+/telemetry': 2, 'status/all': 1 },
      });
      assert.deepEqual(JSON.parse(JSON.stringify(fixture.counts)), fixture.counts, 'counts are plain JSON');
    } finally {
      await fixture.close();
    }
  });

  test('a dead device’s last will reaches subscribers but is not counted as a publish received', { timeout: 20_000 }, async () => {
    const fixture = new MqttFixture({ otaAfterMs: 0 });
    const url = await fixture.listen(0);
    try {
      const backend = await connect(url);
      await backend.subscribeAsync('devices/+/status', { qos: 1 });
      const will = nextMessage(backend);
      const device = await connect(url, { will: { topic: 'devices/abcdef01/status', payload: Buffer.from('offline'), qos: 1, retain: false } });
      device.stream.destroy();
      assert.deepEqual(await will, { topic: 'devices/abcdef01/status', payload: 'offline', qos: 1 });
      assert.equal(fixture.counts.publishesReceived, 0);
      assert.deepEqual(fixture.counts.topics, {});
      assert.equal(fixture.counts.connects, 2);
    } finally {
      await fixture.close();
    }
  });

  test('close() with clients still connected and an OTA command pending resolves and drops them', { timeout: 10_000 }, async () => {
    const fixture = new MqttFixture({ otaAfterMs: 60_000 });
    const url = await fixture.listen(0);
    const device = await connect(url);
    await device.subscribeAsync('devices/abc123def/ota', { qos: 1 });
    const dropped = new Promise<void>((resolve) => device.once('close', () => resolve()));
    await fixture.close();
    await dropped;
    assert.equal(fixture.counts.otaCommandsSent, 0);
  });

  test('an IPv6 host is shown in brackets and the URL connects', { timeout: 10_000 }, async (t) => {
    const fixture = new MqttFixture();
    try {
      let url: string;
      try {
        url = await fixture.listen(0, '::1');
      } catch (error) {
        t.skip(`no IPv6 loopback here (${(error as NodeJS.ErrnoException).code ?? String(error)})`);
        return;
      }
      assert.match(url, /^mqtt:\/\/\[::1\]:\d+$/);
      const client = await connect(url);
      await client.publishAsync('devices/7/ping', '', { qos: 1 });
      assert.deepEqual(fixture.counts.topics, { 'devices/+/ping': 1 });
    } finally {
      await fixture.close();
    }
  });
});
