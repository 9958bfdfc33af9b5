import assert from 'node:assert/strict';
import { readFile } from 'node:fs/promises';
import { after, before, describe, test } from 'node:test';
import type { Results } from '../../src/metrics/results.ts';
import { MqttSession } from '../../src/transport/mqtt/mqtt.ts';
import type { SessionListener, SessionOptions } from '../../src/transport/mqtt/mqtt.ts';
import { NO_PACKET_IDS, QOS2_DOWNGRADED, UNSUPPORTED_AUTH } from '../../src/transport/mqtt/mqtt-labels.ts';
import type { Outcome } from '../../src/transport/types.ts';
import { runCli } from '../helpers/cli.ts';
import { pollUntil } from '../helpers/poll.ts';
import { startScriptedBroker } from '../helpers/scripted-broker.ts';
import type { BrokerScript, ScriptedBroker } from '../helpers/scripted-broker.ts';
import { TempDir } from '../helpers/temp-files.ts';

/** fleetsim's own client against a broker that breaks the protocol on demand. */

class Recorder implements SessionListener {
  readonly connects: { outcome: Outcome; error: string | undefined }[] = [];
  readonly losses: string[] = [];

  connectEnded(outcome: Outcome, error: string | undefined): void {
    this.connects.push({ outcome, error });
  }

  connectionLost(reason: string): void {
    this.losses.push(reason);
  }

  message(): void {}
}

function options(url: string, clientId: string, protocolVersion: 4 | 5, connectTimeoutMs = 5_000, extra: Partial<SessionOptions> = {}): SessionOptions {
  const { hostname, port } = new URL(url);
  return {
    host: hostname,
    port: Number(port),
    tls: undefined,
    clientId,
    protocolVersion,
    clean: true,
    keepaliveS: 30,
    username: undefined,
    password: undefined,
    will: undefined,
    connectTimeoutMs,
    ...extra,
  };
}

async function withSession(
  script: BrokerScript,
  protocolVersion: 4 | 5,
  body: (session: MqttSession, heard: Recorder, broker: ScriptedBroker) => Promise<void>,
  extra: Partial<SessionOptions> = {},
): Promise<void> {
  const broker = await startScriptedBroker(script);
  const heard = new Recorder();
  const session = new MqttSession(heard);
  try {
    session.connect(options(broker.url, `protocol-${protocolVersion}`, protocolVersion, 5_000, extra));
    await pollUntil('the CONNECT to end', () => heard.connects.length > 0);
    await body(session, heard, broker);
  } finally {
    await session.close(false);
    await broker.close();
  }
}

function acked(call: (callback: (error?: string, answered?: boolean, grantedQos?: number) => void) => void): Promise<{ error: string | undefined; grantedQos: number | undefined }> {
  return new Promise((resolve) => call((error, _answered, grantedQos) => resolve({ error, grantedQos })));
}

const OK = { outcome: 'ok', error: undefined };

describe('server DISCONNECT (MQTT 5)', () => {
  test('ends the connection: what was in flight fails with the reason, and nothing more counts as written', { timeout: 20_000 }, () =>
    withSession({ puback: 'never' }, 5, async (session, heard, broker) => {
      assert.deepEqual(heard.connects, [OK]);
      const inFlight = acked((done) => session.publish('t', 'waiting', 1, false, 10_000, done));
      await pollUntil('the publish at the broker', () => broker.publishes === 1);
      broker.disconnectAll(142);
      // The broker keeps its socket open and answers nothing more: only the client can end this.
      assert.deepEqual(await inFlight, { error: 'connection lost: server DISCONNECT reason 142 Session taken over', grantedQos: undefined });
      assert.deepEqual(heard.losses, ['connection lost: server DISCONNECT reason 142 Session taken over']);
      assert.equal(session.connected, false);
      assert.deepEqual(await acked((done) => session.publish('t', 'after', 0, false, 1_000, done)), { error: 'not connected', grantedQos: undefined });
    }),
  );
});

describe('acks of the wrong kind are protocol errors, never successes', () => {
  const cases: { script: BrokerScript; qos: 1 | 2; label: string }[] = [
    { script: { qos2Ack: 'pubcomp' }, qos: 2, label: 'protocol error: PUBCOMP without PUBREL' },
    { script: { qos1Ack: 'pubrec' }, qos: 1, label: 'protocol error: PUBREC for a QoS 1 publish' },
  ];
  for (const { script, qos, label } of cases) {
    for (const version of [4, 5] as const) {
      test(`${label.slice(16)} (v${version === 5 ? 5 : '3.1.1'}): the publish fails by name and the connection is closed`, { timeout: 20_000 }, () =>
        withSession(script, version, async (session, heard, broker) => {
          assert.deepEqual(heard.connects, [OK]);
          assert.deepEqual(await acked((done) => session.publish('t', 'wrong ack', qos, false, 5_000, done)), { error: label, grantedQos: undefined });
          await pollUntil('the connection to be reported lost', () => heard.losses.length > 0);
          assert.deepEqual(heard.losses, [`connection lost: ${label}`]);
          assert.equal(broker.received('pubrel'), 0, 'nothing was released for a publish that failed');
        }),
      );
    }
  }

  test('QoS 2 still ends at PUBCOMP after PUBREC, on both versions', { timeout: 20_000 }, async () => {
    for (const version of [4, 5] as const) {
      await withSession({}, version, async (session, heard, broker) => {
        assert.deepEqual(heard.connects, [OK]);
        assert.deepEqual(await acked((done) => session.publish('t', 'exactly once', 2, false, 5_000, done)), { error: undefined, grantedQos: undefined });
        assert.equal(broker.received('pubrel'), 1);
        assert.deepEqual(heard.losses, []);
      });
    }
  });
});

describe('a broker that downgrades QoS 2 to QoS 1 (answers PUBACK, as RabbitMQ does)', () => {
  for (const version of [4, 5] as const) {
    test(`v${version === 5 ? 5 : '3.1.1'}: each QoS 2 publish is acked at QoS 1 and the connection stays up`, { timeout: 20_000 }, () =>
      withSession({ qos2Ack: 'puback' }, version, async (session, heard, broker) => {
        assert.deepEqual(heard.connects, [OK]);
        const answers = await Promise.all([1, 2, 3].map((n) => acked((done) => session.publish('t', `downgraded ${n}`, 2, false, 5_000, done))));
        assert.deepEqual(
          answers,
          [1, 2, 3].map(() => ({ error: undefined, grantedQos: 1 })),
        );
        // Still the same connection: a QoS 1 publish after them goes through it.
        assert.deepEqual(await acked((done) => session.publish('t', 'qos 1', 1, false, 5_000, done)), { error: undefined, grantedQos: undefined });
        assert.equal(session.connected, true);
        assert.deepEqual(heard.losses, []);
        assert.equal(broker.connects, 1);
        assert.equal(broker.received('pubrel'), 0, 'a QoS 1 exchange has no PUBREL');
      }),
    );
  }

  test('qos2Downgrade: fail fails each such publish by name, and keeps the connection', { timeout: 20_000 }, () =>
    withSession(
      { qos2Ack: 'puback' },
      4,
      async (session, heard, broker) => {
        const answers = await Promise.all([1, 2].map((n) => acked((done) => session.publish('t', `downgraded ${n}`, 2, false, 5_000, done))));
        assert.deepEqual(
          answers,
          [1, 2].map(() => ({ error: QOS2_DOWNGRADED, grantedQos: undefined })),
        );
        assert.equal(session.connected, true);
        assert.deepEqual(heard.losses, []);
        assert.equal(broker.connects, 1);
      },
      { qos2Downgrade: 'fail' },
    ),
  );
});

describe('CONNECT and SUBACK answers', () => {
  test('an AUTH packet fails the CONNECT at once by name, not by timeout', { timeout: 20_000 }, async () => {
    const started = Date.now();
    await withSession({ connack: 'auth' }, 5, (_session, heard) => {
      assert.deepEqual(heard.connects, [{ outcome: 'failure', error: UNSUPPORTED_AUTH }]);
      return Promise.resolve();
    });
    assert.ok(Date.now() - started < 4_000, 'well within the 5 s CONNECT timeout');
  });

  test('SUBACK failures carry the reason label; v3.1.1 0x80 and v5 0x87', { timeout: 20_000 }, async () => {
    await withSession({ granted: [0x80] }, 4, async (session) => {
      assert.deepEqual(await acked((done) => session.subscribe('cmd/#', 1, done)), { error: 'reason 128 Unspecified error', grantedQos: undefined });
    });
    await withSession({ granted: [0x87] }, 5, async (session) => {
      assert.deepEqual(await acked((done) => session.subscribe('cmd/#', 1, done)), { error: 'reason 135 Not authorized', grantedQos: undefined });
    });
  });

  test('a SUBACK granting less than asked succeeds and says what it granted', { timeout: 20_000 }, () =>
    withSession({ granted: [0] }, 4, async (session) => {
      assert.deepEqual(await acked((done) => session.subscribe('cmd/#', 2, done)), { error: undefined, grantedQos: 0 });
    }),
  );
});

describe('client paths at their limits', () => {
  test('a CONNECT the broker never answers ends as a timeout at connectTimeout', { timeout: 20_000 }, async () => {
    const broker = await startScriptedBroker({ connack: 'never' });
    const heard = new Recorder();
    const session = new MqttSession(heard);
    try {
      const started = Date.now();
      session.connect(options(broker.url, 'silent', 4, 300));
      await pollUntil('the CONNECT to end', () => heard.connects.length > 0);
      assert.deepEqual(heard.connects, [{ outcome: 'timeout', error: 'timeout' }]);
      assert.ok(Date.now() - started >= 290, 'not before the timeout');
    } finally {
      await session.close(false);
      await broker.close();
    }
  });

  test("a publish over the broker's Maximum Packet Size fails as reason 149 and is not sent", { timeout: 20_000 }, () =>
    withSession({ connackProperties: { maximumPacketSize: 200 } }, 5, async (session, _heard, broker) => {
      assert.deepEqual(await acked((done) => session.publish('t', 'x'.repeat(300), 1, false, 5_000, done)), { error: 'reason 149 Packet too large', grantedQos: undefined });
      assert.deepEqual(await acked((done) => session.publish('t', 'small', 1, false, 5_000, done)), { error: undefined, grantedQos: undefined });
      assert.equal(broker.publishes, 1);
    }),
  );

  test('a 2.5 MB payload (a four-byte remaining length) arrives intact', { timeout: 20_000 }, () =>
    withSession({}, 4, async (session, _heard, broker) => {
      const payload = 'abcdefghij'.repeat(250_000);
      assert.deepEqual(await acked((done) => session.publish('big', payload, 1, false, 10_000, done)), { error: undefined, grantedQos: undefined });
      assert.equal(broker.log.find((packet) => packet.cmd === 'publish')?.payload, payload);
    }),
  );

  test('65,535 publishes in flight take every packet id (never 0); the next fails by name', { timeout: 60_000 }, () =>
    withSession({ puback: 'never' }, 4, async (session, _heard, broker) => {
      for (let i = 0; i < 65_535; i++) session.publish('t', '', 1, false, 60_000, () => assert.fail('nothing is acked'));
      assert.deepEqual(await acked((done) => session.publish('t', 'one too many', 1, false, 5_000, done)), { error: NO_PACKET_IDS, grantedQos: undefined });
      await pollUntil('every publish at the broker', () => broker.publishes === 65_535, 40_000);
      const ids = new Set(broker.log.filter((packet) => packet.cmd === 'publish').map((packet) => packet.messageId));
      assert.equal(ids.size, 65_535);
      assert.ok(!ids.has(0), 'packet id 0 is never used');
    }),
  );
});

let temp: TempDir;
before(async () => {
  temp = await TempDir.create();
});
after(async () => {
  await temp.remove();
});

async function runFleet(
  script: BrokerScript,
  device: string,
  args: string[],
  during?: (broker: ScriptedBroker) => Promise<void>,
): Promise<{ results: Results; stdout: string; broker: ScriptedBroker }> {
  const broker = await startScriptedBroker(script);
  try {
    const name = `fleet-${Math.random().toString(36).slice(2)}`;
    await temp.write(`${name}.device.yaml`, device);
    const profile = await temp.write(`${name}.yaml`, `kind: profile\nseed: 7\nfleet:\n  - device: ${name}.device.yaml\n    count: 4\nspawnRate: 100\n`);
    const json = temp.file(`${name}.json`);
    const running = runCli(['run', profile, '--broker', broker.url, '--json', json, ...args], 60_000);
    if (during) await during(broker);
    const result = await running;
    assert.ok(result.code === 0 || result.code === 99, result.stderr);
    return { results: JSON.parse(await readFile(json, 'utf8')) as Results, stdout: result.stdout, broker };
  } finally {
    await broker.close();
  }
}

function lamp(version: string, qos: number, extra = ''): string {
  return `kind: device
name: lamp
identity: { scheme: sequential-hex, base: "0x1e0000000000", width: 12 }
mqtt:
  version: "${version}"
  reconnect: { min: 200ms, max: 400ms }
tasks:
  - name: lamp/changed
    repeat: 5
    publish:
      topic: devices/{{ device.id }}/lamp/changed
      qos: ${qos}
      ackTimeout: 2s
      json: { brightness: "{{ float(0, 1) }}" }
wait: { model: constant, time: 50ms }
${extra}`;
}

const row = (results: Results, type: string) => {
  const found = results.stats.find((stat) => stat.type === type);
  assert.ok(found, `no ${type} row`);
  return found;
};

describe('a fleet run', () => {
  test('server DISCONNECT mid-run: devices reconnect with backoff, QoS 0 stops counting at the DISCONNECT', { timeout: 60_000 }, async () => {
    let publishesAtDisconnect = 0;
    const { results, broker } = await runFleet({}, lamp('5', 0), ['--duration', '3s'], async (broker) => {
      await pollUntil('every device publishing', () => broker.connects >= 4 && broker.publishes >= 40, 20_000);
      publishesAtDisconnect = broker.log.filter((packet) => packet.cmd === 'publish').length;
      broker.disconnectAll(142);
    });
    const connect = row(results, 'CONNECT');
    assert.ok(connect.requests >= 8, `${connect.requests} CONNECTs: each device came back`);
    assert.equal(connect.failures, 0);
    const publish = row(results, 'PUBLISH');
    assert.ok(publish.requests - publish.failures > publishesAtDisconnect, 'publishing went on after the reconnect');
    // Every publish counted ok was read by the broker: none was written into the ended connection.
    assert.ok(publish.requests - publish.failures <= broker.log.filter((packet) => packet.cmd === 'publish').length);
    // Only what was already on its way when the DISCONNECT left reaches the ended connections: a burst of
    // 5 per device, or two on a loop stalled past the 50 ms wait (timers run before I/O is read). A client
    // that ignored the DISCONNECT would go on publishing there for the rest of the run (hundreds more).
    assert.ok(broker.publishesAfterDisconnect <= 4 * 5 * 2, `${broker.publishesAfterDisconnect} publishes after the DISCONNECT`);
  });

  test('QoS 2 answered with PUBACK: no reconnects, every publish acked at QoS 1 and counted, one warning', { timeout: 60_000 }, async () => {
    const { results, stdout, broker } = await runFleet({ qos2Ack: 'puback' }, lamp('3.1.1', 2), ['--iterations', '20']);
    assert.equal(broker.connects, 4, 'one CONNECT per device');
    assert.equal(row(results, 'CONNECT').requests, 4);
    const publish = row(results, 'PUBLISH');
    assert.equal(publish.requests, 4 * 20 * 5);
    assert.equal(publish.failures, 0);
    assert.equal(publish.qosDowngrades, publish.requests);
    assert.equal(broker.publishes, publish.requests, 'every publish reached the broker once');
    const warnings = stdout.split('\n').filter((line) => line.includes('answered with PUBACK'));
    assert.equal(warnings.length, 1, stdout);
    assert.match(warnings[0] ?? '', /^400 QoS 2 publishes \(lamp\/changed\) were answered with PUBACK: the broker downgrades QoS 2 to QoS 1, as RabbitMQ does/);
  });

  test('QoS 2 answered with PUBACK under qos2Downgrade: fail: every publish fails by name, still no reconnects', { timeout: 60_000 }, async () => {
    const { results, broker } = await runFleet({ qos2Ack: 'puback' }, lamp('3.1.1', 2).replace('mqtt:\n', 'mqtt:\n  qos2Downgrade: fail\n'), ['--iterations', '2']);
    assert.equal(broker.connects, 4);
    const publish = row(results, 'PUBLISH');
    assert.equal(publish.requests, 4 * 2 * 5);
    assert.equal(publish.failures, publish.requests);
    assert.equal(publish.qosDowngrades, undefined);
    assert.deepEqual(
      results.failures.filter((failure) => failure.type === 'PUBLISH').map((failure) => [failure.error, failure.count]),
      [[QOS2_DOWNGRADED, 40]],
    );
  });

  test('a SUBSCRIBE granted a lower QoS is counted in the results and the summary', { timeout: 60_000 }, async () => {
    const reacting = lamp(
      '3.1.1',
      1,
      `on:
  - topic: "devices/{{ device.id }}/cmd"
    qos: 2
    steps:
      - publish: { topic: "devices/{{ device.id }}/ack", payload: ok }
`,
    );
    const { results, stdout } = await runFleet({ granted: [1] }, reacting, ['--iterations', '1']);
    const subscribe = row(results, 'SUBSCRIBE');
    assert.equal(subscribe.requests, 4);
    assert.equal(subscribe.failures, 0);
    assert.equal(subscribe.qosDowngrades, 4);
    assert.equal(row(results, 'PUBLISH').qosDowngrades, undefined);
    assert.match(stdout, /4 × SUBSCRIBE .*: the broker granted a lower QoS than asked/);
  });
});
