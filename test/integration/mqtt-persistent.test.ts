import assert from 'node:assert/strict';
import { readFile } from 'node:fs/promises';
import { after, before, describe, test } from 'node:test';
import { connectAsync } from 'mqtt';
import type { MqttClient } from 'mqtt';
import type { Results } from '../../src/metrics/results.ts';
import { MqttSession } from '../../src/transport/mqtt/mqtt.ts';
import type { SessionListener, SessionOptions } from '../../src/transport/mqtt/mqtt.ts';
import { runCli } from '../helpers/cli.ts';
import { mosquittoSkip, startMosquitto } from '../helpers/mosquitto.ts';
import { pollUntil } from '../helpers/poll.ts';
import { startScriptedBroker } from '../helpers/scripted-broker.ts';
import type { BrokerScript } from '../helpers/scripted-broker.ts';
import { TempDir } from '../helpers/temp-files.ts';

/** Persistent sessions (`clean: false`), MQTT 3.1.1 and 5 §4.4: what was unacknowledged goes again after a reconnect. */

class Recorder implements SessionListener {
  readonly connects: string[] = [];
  readonly losses: string[] = [];
  connectEnded(outcome: string, error: string | undefined): void {
    this.connects.push(error ?? outcome);
  }
  connectionLost(reason: string): void {
    this.losses.push(reason);
  }
  message(): void {}
}

function options(url: string, protocolVersion: 4 | 5): SessionOptions {
  const { hostname, port } = new URL(url);
  return {
    host: hostname,
    port: Number(port),
    tls: undefined,
    clientId: `persistent-${protocolVersion}`,
    protocolVersion,
    clean: false,
    sessionExpiryS: 3600,
    keepaliveS: 30,
    username: undefined,
    password: undefined,
    will: undefined,
    connectTimeoutMs: 5_000,
  };
}

for (const protocolVersion of [4, 5] as const) {
  const version = protocolVersion === 5 ? 'MQTT 5' : 'MQTT 3.1.1';
  describe(`a persistent session against the scripted broker, ${version}`, () => {
    test('after a reconnect with Session Present, unacked publishes go again with DUP and their ids, PUBREL again, each ends once', { timeout: 30_000 }, async () => {
      // Nothing is acknowledged on the first connection; QoS 2 gets as far as PUBREL.
      const script: BrokerScript = { puback: 'never', pubcomp: 'never', keepSessions: true };
      const broker = await startScriptedBroker(script);
      const heard = new Recorder();
      const session = new MqttSession(heard);
      try {
        session.connect(options(broker.url, protocolVersion));
        await pollUntil('the first CONNECT', () => heard.connects.length === 1);
        const ended: (string | undefined)[][] = [[], [], [], []];
        session.publish('p/1', 'one', 1, false, 20_000, (error) => ended[0]?.push(error));
        session.publish('p/2', 'two', 1, false, 20_000, (error) => ended[1]?.push(error));
        session.publish('p/3', 'three', 2, false, 20_000, (error) => ended[2]?.push(error));
        await pollUntil('the QoS 2 publish released', () => broker.received('pubrel') === 1);
        const first = broker.log.filter((packet) => packet.cmd === 'publish');
        assert.deepEqual(
          first.map(({ messageId, dup }) => ({ messageId, dup })),
          [1, 2, 3].map((messageId) => ({ messageId, dup: false })),
        );
        broker.dropAll();
        await pollUntil('the loss', () => heard.losses.length === 1);
        assert.deepEqual(
          ended.map((calls) => calls.length),
          [0, 0, 0, 0],
          'a carried publish does not end with the connection',
        );
        Object.assign(script, { puback: 'immediate', pubcomp: 'immediate' });
        session.connect(options(broker.url, protocolVersion));
        await pollUntil('every carried publish to end', () => ended.slice(0, 3).every((calls) => calls.length === 1));
        assert.deepEqual(ended.slice(0, 3), [[undefined], [undefined], [undefined]]);
        const again = broker.log.filter((packet) => packet.cmd === 'publish').slice(3);
        assert.deepEqual(
          again.map(({ messageId, dup, payload }) => ({ messageId, dup, payload })),
          [
            { messageId: 1, dup: true, payload: 'one' },
            { messageId: 2, dup: true, payload: 'two' },
          ],
        );
        assert.equal(broker.received('pubrel'), 2, 'the unanswered PUBREL went again');
        // Ids continue: the broker may still hold the old ones.
        session.publish('p/4', 'four', 1, false, 20_000, (error) => ended[3]?.push(error));
        await pollUntil('the new publish acked', () => ended[3]?.length === 1);
        assert.equal(broker.log.filter((packet) => packet.cmd === 'publish').at(-1)?.messageId, 4);
        const connects = broker.log.filter((packet) => packet.cmd === 'connect');
        assert.deepEqual(
          connects.map((packet) => packet.clean),
          [false, false],
        );
        assert.deepEqual(
          connects.map((packet) => packet.sessionExpiry),
          protocolVersion === 5 ? [3600, 3600] : [undefined, undefined],
        );
      } finally {
        await session.close(false);
        await broker.close();
      }
    });

    test('a broker that kept no session: the carried publishes fail by name, and are not sent again', { timeout: 30_000 }, async () => {
      const script: BrokerScript = { puback: 'never' };
      const broker = await startScriptedBroker(script);
      const heard = new Recorder();
      const session = new MqttSession(heard);
      try {
        session.connect(options(broker.url, protocolVersion));
        await pollUntil('the first CONNECT', () => heard.connects.length === 1);
        const ended: (string | undefined)[] = [];
        session.publish('p/1', 'one', 1, false, 20_000, (error) => ended.push(error));
        await pollUntil('the publish at the broker', () => broker.publishes === 1);
        broker.dropAll();
        await pollUntil('the loss', () => heard.losses.length === 1);
        session.connect(options(broker.url, protocolVersion));
        await pollUntil('the carried publish to end', () => ended.length === 1);
        assert.deepEqual(ended, ['connection lost: the broker kept no session']);
        assert.equal(broker.publishes, 1);
      } finally {
        await session.close(false);
        await broker.close();
      }
    });
  });
}

const skip = mosquittoSkip();
let temp: TempDir;
before(async () => {
  temp = await TempDir.create();
});
after(async () => {
  await temp.remove();
});

function lamp(version: string): string {
  // Each publish has a topic of its own (its seq), so the broker's log tells a resend from a new message.
  return `kind: device
name: lamp
identity: { scheme: sequential-hex, base: "0x1e0000000000", width: 12 }
mqtt:
  version: "${version}"
  clean: false
  reconnect: { min: 100ms, max: 500ms }
tasks:
  - name: qos1
    weight: 1
    repeat: 50
    publish: { topic: "devices/{{ device.id }}/q1/{{ seq }}", qos: 1, ackTimeout: 20s, payload: "{{ seq }}" }
  - name: qos2
    weight: 1
    repeat: 50
    publish: { topic: "devices/{{ device.id }}/q2/{{ seq }}", qos: 2, ackTimeout: 20s, payload: "{{ seq }}" }
wait: { model: constant, time: 20ms }
`;
}

const RECEIVED = /Received PUBLISH from (\S+) \(d(\d), q(\d), r\d, m\d+, '([^']+)'/;

describe('persistent sessions against Mosquitto killed mid-burst (persistence on)', { skip }, () => {
  for (const version of ['3.1.1', '5']) {
    test(`MQTT ${version}: fleetsim resends with DUP, and its acked count equals what the broker received, duplicates removed`, { timeout: 90_000 }, async (t) => {
      // Mosquitto 2.0.11 checks a v5 client's quota before it recognises a DUP as a message it holds, so
      // resends after a restart can use two places each: the Receive Maximum is set above twice a burst.
      const broker = await startMosquitto({ persistence: true, logAll: true, maxInflight: 120 });
      // A watcher left reconnecting to a stopped broker would keep this file's process alive forever.
      let watcher: MqttClient | undefined;
      try {
        const devices = 8;
        await temp.write(`lamp-${version}.device.yaml`, lamp(version));
        const profile = await temp.write(`lamps-${version}.yaml`, `kind: profile\nseed: 3\nfleet:\n  - device: lamp-${version}.device.yaml\n    count: ${devices}\nspawnRate: 200\n`);
        const json = temp.file(`persistent-${version}.json`);
        watcher = await connectAsync(broker.url, { reconnectPeriod: 100 }, false);
        const publishers = new Set<string>();
        let allPublishingAt = Number.POSITIVE_INFINITY;
        let seen = 0;
        watcher.on('message', (topic) => {
          seen++;
          if (publishers.size === devices) return;
          publishers.add(topic.split('/')[1] ?? topic);
          if (publishers.size === devices) allPublishingAt = Date.now();
        });
        await watcher.subscribeAsync('devices/#', { qos: 0 });
        // Enough iterations that the fleet is still publishing after a few freezes that found nothing unread.
        const iterations = 300;
        const running = runCli(['run', profile, '--broker', broker.url, '--iterations', String(iterations), '--json', json, '--quiet'], 80_000);
        // Every device's session must be on disk before the kill: wait for a save that began after the
        // last device was publishing. Frozen, the broker answers nothing while the devices' bursts pile up
        // unread in its sockets; killed, it loses them.
        await pollUntil('every device publishing', () => publishers.size === devices, 30_000);
        await pollUntil('a save of every session', () => broker.savedAt() > allPublishingAt + 1_000, 30_000);
        // PUBRELs alone come to at most 8 devices x 50 x 4 bytes: beyond that, PUBLISHes are unread, and must go again.
        // A freeze can land just after the broker read every burst; then it runs on a moment and freezes again.
        let unread = false;
        for (let attempt = 0; attempt < 20 && !unread; attempt++) {
          broker.freeze();
          unread = await pollUntil('publishes unread by the frozen broker', () => broker.unreadBytes() > 4_000, 1_500).then(
            () => true,
            () => false,
          );
          if (unread) break;
          broker.thaw();
          const before = seen;
          await pollUntil('the fleet publishing again', () => seen > before + 100, 10_000);
        }
        assert.ok(unread, 'publishes were left unread by the frozen broker');
        await broker.restart();
        const result = await running;
        assert.equal(result.code, 0, result.stderr);
        const results = JSON.parse(await readFile(json, 'utf8')) as Results;
        const rows = results.stats.filter((row) => row.type === 'PUBLISH');
        const requests = rows.reduce((sum, row) => sum + row.requests, 0);
        const failures = rows.reduce((sum, row) => sum + row.failures, 0);
        assert.equal(requests, devices * iterations * 50);
        assert.deepEqual(
          results.failures.filter((failure) => failure.type === 'PUBLISH'),
          [],
          'a publish the session carried is not a failure',
        );
        const connects = results.stats.find((row) => row.type === 'CONNECT');
        assert.ok((connects?.requests ?? 0) > devices, 'the devices reconnected');

        const received = broker
          .log()
          .split('\n')
          .map((line) => RECEIVED.exec(line))
          .filter((match) => match !== null);
        const distinct = new Set(received.map((match) => `${match[1]} ${match[4]}`));
        const resent = received.filter((match) => match[2] === '1');
        assert.ok(resent.length > 0, 'the kill caught publishes in flight, and they were sent again with DUP');
        t.diagnostic(`acked ${requests - failures}; broker received ${received.length} PUBLISHes, ${distinct.size} distinct, ${resent.length} with DUP; ${connects?.requests} CONNECTs`);
        assert.equal(distinct.size, requests - failures, `broker received ${received.length} PUBLISHes, ${distinct.size} distinct, ${resent.length} with DUP`);
      } finally {
        await watcher?.endAsync(true);
        await broker.stop();
      }
    });
  }
});
