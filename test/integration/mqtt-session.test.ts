import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { connectAsync } from 'mqtt';
import type { MqttClient } from 'mqtt';
import { MqttFixture } from '../../broker-fixture/index.ts';
import { MqttSession } from '../../src/transport/mqtt/mqtt.ts';
import type { SessionListener, SessionOptions } from '../../src/transport/mqtt/mqtt.ts';
import type { Outcome } from '../../src/transport/types.ts';
import { mosquittoSkip, startMosquitto } from '../helpers/mosquitto.ts';
import type { MosquittoBroker } from '../helpers/mosquitto.ts';
import { holdsFor, pollUntil } from '../helpers/poll.ts';
import { startScriptedBroker } from '../helpers/scripted-broker.ts';
import type { BrokerScript, ScriptedBroker } from '../helpers/scripted-broker.ts';

/** Everything a session told its listener, in order. */
class Recorder implements SessionListener {
  readonly connects: { outcome: Outcome; error: string | undefined; latencyMicros: number }[] = [];
  readonly losses: string[] = [];
  readonly messages: { topic: string; payload: string }[] = [];

  connectEnded(outcome: Outcome, error: string | undefined, latencyMicros: number, _answered: boolean): void {
    this.connects.push({ outcome, error, latencyMicros });
  }

  connectionLost(reason: string): void {
    this.losses.push(reason);
  }

  message(topic: string, payload: Buffer): void {
    this.messages.push({ topic, payload: payload.toString() });
  }
}

function options(url: string, clientId: string, protocolVersion: 4 | 5, keepaliveS = 30): SessionOptions {
  const { hostname, port } = new URL(url);
  return { host: hostname, port: Number(port), tls: undefined, clientId, protocolVersion, clean: true, keepaliveS, username: undefined, password: undefined, will: undefined, connectTimeoutMs: 5_000 };
}

async function open(url: string, clientId: string, protocolVersion: 4 | 5, keepaliveS?: number): Promise<{ session: MqttSession; heard: Recorder }> {
  const heard = new Recorder();
  const session = new MqttSession(heard);
  session.connect(options(url, clientId, protocolVersion, keepaliveS));
  await pollUntil(`${clientId} to connect`, () => heard.connects.length > 0);
  assert.deepEqual(
    heard.connects.map(({ outcome, error }) => ({ outcome, error })),
    [{ outcome: 'ok', error: undefined }],
  );
  return { session, heard };
}

function acked(call: (callback: (error?: string) => void) => void): Promise<string | undefined> {
  return new Promise((resolve) => call(resolve));
}

async function withScriptedBroker(script: BrokerScript, body: (broker: ScriptedBroker) => Promise<void>): Promise<void> {
  const broker = await startScriptedBroker(script);
  try {
    await body(broker);
  } finally {
    await broker.close();
  }
}

interface Broker {
  readonly name: string;
  url(): string;
  readonly versions: readonly (4 | 5)[];
}

/** The same behaviours, asked of every broker fleetsim is tested against. */
function sessionSuite(broker: Broker, skip: string | false): void {
  for (const protocolVersion of broker.versions) {
    const version = protocolVersion === 5 ? 'MQTT 5' : 'MQTT 3.1.1';
    describe(`a session against ${broker.name}, ${version}`, { skip }, () => {
      const peers: MqttClient[] = [];
      after(async () => {
        await Promise.all(peers.map((peer) => peer.endAsync(true)));
      });

      test('CONNECT is timed; QoS 0, 1 and 2 publishes and a subscribe are each acknowledged once', { timeout: 20_000 }, async () => {
        const { session, heard } = await open(broker.url(), `acks-${protocolVersion}`, protocolVersion);
        assert.ok((heard.connects[0]?.latencyMicros ?? 0) > 0);
        const answers = await Promise.all([
          ...[0, 1, 2].map((qos) => acked((done) => session.publish(`acks/${protocolVersion}/${qos}`, `qos ${qos}`, qos as 0 | 1 | 2, false, 5_000, done))),
          acked((done) => session.subscribe(`acks/${protocolVersion}/#`, 1, done)),
        ]);
        assert.deepEqual(answers, [undefined, undefined, undefined, undefined]);
        await session.close(true);
        assert.equal(session.connected, false);
        assert.deepEqual(heard.losses, [], 'a close asked for is not a loss');
      });

      test('messages at QoS 0, 1 and 2 reach the listener once each, with a 20 KB payload intact', { timeout: 20_000 }, async () => {
        const { session, heard } = await open(broker.url(), `down-${protocolVersion}`, protocolVersion);
        assert.equal(await acked((done) => session.subscribe(`down/${protocolVersion}/#`, 2, done)), undefined);
        const peer = await connectAsync(broker.url(), { reconnectPeriod: 0, protocolVersion }, false);
        peers.push(peer);
        const big = 'z'.repeat(20_000);
        for (const qos of [0, 1, 2] as const) await peer.publishAsync(`down/${protocolVersion}/${qos}`, qos === 2 ? big : `m${qos}`, { qos });
        await pollUntil('three messages', () => heard.messages.length >= 3);
        // A QoS 2 delivery the session failed to complete would be sent again; a moment's grace shows none is.
        await peer.publishAsync(`down/${protocolVersion}/end`, 'end', { qos: 1 });
        await pollUntil('the closing message', () => heard.messages.some((message) => message.payload === 'end'));
        assert.deepEqual(
          heard.messages.map(({ topic, payload }) => `${topic}=${payload.length > 10 ? payload.length : payload}`),
          [`down/${protocolVersion}/0=m0`, `down/${protocolVersion}/1=m1`, `down/${protocolVersion}/2=20000`, `down/${protocolVersion}/end=end`],
        );
        assert.equal(heard.messages[2]?.payload, big);
        await session.close(true);
      });

      test("an idle session with a 1 s keepalive pings and stays connected past the broker's 1.5 s limit", { timeout: 20_000 }, async () => {
        const { session, heard } = await open(broker.url(), `idle-${protocolVersion}`, protocolVersion, 1);
        // The thing proved is an absence (no disconnect), so the test watches through the broker's limit twice.
        await holdsFor('the idle session staying up', () => session.connected && heard.losses.length === 0, 3_200);
        assert.equal(session.connected, true);
        assert.deepEqual(heard.losses, []);
        assert.equal(await acked((done) => session.publish(`idle/${protocolVersion}`, 'still here', 1, false, 5_000, done)), undefined);
        await session.close(true);
      });
    });
  }
}

const fixture = new MqttFixture();
let fixtureUrl = '';
before(async () => {
  fixtureUrl = await fixture.listen(0);
});
after(async () => {
  await fixture.close();
});
// Aedes speaks MQTT 3.1.1 only.
sessionSuite({ name: 'the embedded Aedes broker', url: () => fixtureUrl, versions: [4] }, false);

const skip = mosquittoSkip();
let mosquitto: MosquittoBroker | undefined;
before(async () => {
  if (!skip) mosquitto = await startMosquitto();
});
after(async () => {
  await mosquitto?.stop();
});
sessionSuite({ name: 'Mosquitto', url: () => mosquitto?.url ?? '', versions: [4, 5] }, skip);

test('QoS 0 publishes end when their bytes leave, so a broker that stops reading holds them back', { timeout: 30_000 }, () =>
  withScriptedBroker({ reading: 'stalled' }, async (broker) => {
    const { session } = await open(broker.url, 'qos0-paced', 4);
    const payload = 'q'.repeat(64 * 1024);
    const count = 400;
    let ended = 0;
    const failures: string[] = [];
    for (let i = 0; i < count; i++) {
      session.publish('paced', payload, 0, false, 5_000, (error) => {
        ended++;
        if (error !== undefined) failures.push(error);
      });
    }
    // 25 MB cannot all fit in the kernel's socket buffers: what the broker does not read stays unended.
    await holdsFor('QoS 0 publishes waiting on a broker that reads nothing', () => ended < count, 1_000);
    assert.ok(ended < count, `${ended} of ${count} QoS 0 publishes ended while the broker read nothing`);
    broker.resumeReading();
    await pollUntil('every QoS 0 publish to end once the broker reads', () => ended === count, 20_000);
    assert.deepEqual(failures, []);
    await session.close(true);
  }),
);

describe("an MQTT 5 broker's CONNACK limits", () => {
  test('Receive Maximum: a burst of 10 goes out 2 at a time, and every publish is acked', { timeout: 30_000 }, () =>
    withScriptedBroker({ puback: { delayMs: 20 }, connackProperties: { receiveMaximum: 2 } }, async (broker) => {
      const { session } = await open(broker.url, 'receive-maximum', 5);
      const answers = await Promise.all(Array.from({ length: 10 }, (_, i) => acked((done) => session.publish('limits', `m${i}`, 1, false, 5_000, done))));
      assert.deepEqual(
        answers,
        Array.from({ length: 10 }, () => undefined),
      );
      assert.equal(broker.publishes, 10);
      assert.equal(broker.maxInFlight, 2);
      await session.close(true);
    }),
  );

  test('Receive Maximum: a publish held back past its timeout is dropped unsent, and the next goes out', { timeout: 30_000 }, () =>
    withScriptedBroker({ puback: { delayMs: 300 }, connackProperties: { receiveMaximum: 1 } }, async (broker) => {
      const { session } = await open(broker.url, 'held-expiry', 5);
      const first = acked((done) => session.publish('limits', 'first', 1, false, 5_000, done));
      // Held behind the first for its 300 ms PUBACK, longer than their 50 ms: the caller has given up on them.
      for (let i = 0; i < 4; i++) session.publish('limits', `stale ${i}`, 1, false, 50, () => assert.fail('a dropped publish is not called back'));
      assert.equal(await first, undefined);
      assert.equal(await acked((done) => session.publish('limits', 'fresh', 1, false, 5_000, done)), undefined);
      assert.equal(broker.publishes, 2, 'only the first and the fresh publish reached the broker');
      await session.close(true);
    }),
  );

  test('Receive Maximum 0 is a malformed CONNACK: the CONNECT fails by name', { timeout: 30_000 }, () =>
    withScriptedBroker({ connackProperties: { receiveMaximum: 0 } }, async (broker) => {
      const heard = new Recorder();
      const session = new MqttSession(heard);
      session.connect(options(broker.url, 'receive-zero', 5));
      await pollUntil('the CONNECT to end', () => heard.connects.length > 0);
      assert.deepEqual(
        heard.connects.map(({ outcome, error }) => ({ outcome, error })),
        [{ outcome: 'failure', error: 'malformed packet: Receive Maximum 0' }],
      );
      await session.close(false);
    }),
  );

  test("Server Keep Alive replaces the client's: a 30 s keepalive cut to 1 s pings within the second", { timeout: 30_000 }, () =>
    withScriptedBroker({ connackProperties: { serverKeepAlive: 1 } }, async (broker) => {
      const { session, heard } = await open(broker.url, 'server-keepalive', 5, 30);
      await pollUntil("a PINGREQ at the broker's keepalive", () => broker.received('pingreq') > 0, 3_000);
      assert.deepEqual(heard.losses, []);
      await session.close(true);
    }),
  );

  test('Maximum QoS, Retain Available and unencodable topics fail the publish by name and keep the connection', { timeout: 30_000 }, () =>
    withScriptedBroker({ connackProperties: { maximumQoS: 0, retainAvailable: false } }, async (broker) => {
      const { session } = await open(broker.url, 'refusals', 5);
      assert.equal(await acked((done) => session.publish('limits', 'q1', 1, false, 5_000, done)), 'reason 155 QoS not supported');
      assert.equal(await acked((done) => session.publish('limits', 'kept', 0, true, 5_000, done)), 'reason 154 Retain not supported');
      assert.equal(await acked((done) => session.publish('t'.repeat(70_000), 'long', 0, false, 5_000, done)), 'topic longer than 65535 bytes');
      assert.equal(await acked((done) => session.publish('limits', 'fine', 0, false, 5_000, done)), undefined);
      await pollUntil('the one valid publish at the broker', () => broker.publishes === 1);
      assert.equal(session.connected, true);
      await session.close(true);
    }),
  );
});

test('a QoS 2 message the broker sends twice before PUBREL reaches the listener once, and is completed', { timeout: 30_000 }, () => {
  const publish = { cmd: 'publish', topic: 'down/twice', payload: Buffer.from('once'), qos: 2, messageId: 77, retain: false, dup: false } as const;
  return withScriptedBroker({ afterSuback: [publish, { ...publish, dup: true }, { cmd: 'pubrel', messageId: 77 }] }, async (broker) => {
    const { session, heard } = await open(broker.url, 'qos2-twice', 4);
    assert.equal(await acked((done) => session.subscribe('down/#', 2, done)), undefined);
    await pollUntil('the PUBCOMP for the released message', () => broker.received('pubcomp') === 1);
    assert.equal(broker.received('pubrec'), 2, 'each copy is answered');
    assert.deepEqual(heard.messages, [{ topic: 'down/twice', payload: 'once' }]);
    await session.close(true);
  });
});
