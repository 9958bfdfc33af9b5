import assert from 'node:assert/strict';
import { readFile } from 'node:fs/promises';
import { after, before, describe, test } from 'node:test';
import { connectAsync } from 'mqtt';
import type { MqttClient } from 'mqtt';
import type { Results } from '../../src/metrics/results.ts';
import { MqttSession } from '../../src/transport/mqtt/mqtt.ts';
import type { SessionListener, SessionOptions } from '../../src/transport/mqtt/mqtt.ts';
import { STALE_SESSION } from '../../src/transport/mqtt/mqtt-labels.ts';
import { startCli } from '../helpers/cli.ts';
import { mosquittoSkip, startMosquitto } from '../helpers/mosquitto.ts';
import { pollUntil } from '../helpers/poll.ts';
import { startScriptedBroker } from '../helpers/scripted-broker.ts';
import type { BrokerScript } from '../helpers/scripted-broker.ts';
import { TempDir } from '../helpers/temp-files.ts';

/**
 * No silent loss between runs: a run killed with QoS 1/2 publishes unreleased leaves a session at
 * the broker; the next run (same seed, same client ids) must not resume it with packet ids the
 * broker still holds, nor run reactions on what that session had queued.
 */

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
  message(topic: string): void {
    this.messages.push(topic);
  }
}

function options(url: string, protocolVersion: 4 | 5, extra: Partial<SessionOptions> = {}): SessionOptions {
  const { hostname, port } = new URL(url);
  return {
    host: hostname,
    port: Number(port),
    tls: undefined,
    clientId: `stale-${protocolVersion}`,
    protocolVersion,
    clean: false,
    sessionExpiryS: 3600,
    keepaliveS: 30,
    username: undefined,
    password: undefined,
    will: undefined,
    connectTimeoutMs: 5_000,
    ...extra,
  };
}

function publish(session: MqttSession, payload: string, qos: 1 | 2): Promise<string | undefined> {
  return new Promise((resolve) => session.publish('t', payload, qos, false, 10_000, resolve));
}

async function connected(session: MqttSession, heard: Recorder, opts: SessionOptions): Promise<void> {
  const before = heard.connects.length;
  session.connect(opts);
  await pollUntil('the CONNECT to end', () => heard.connects.length > before);
}

for (const protocolVersion of [4, 5] as const) {
  const version = protocolVersion === 5 ? 'MQTT 5' : 'MQTT 3.1.1';
  describe(`a session left by an earlier process, ${version} (scripted broker holding QoS 2 ids, as Paho's does)`, () => {
    test('Session Present on the first connect: closed, discarded with a clean connection, a new session; no id collides, no queued message is seen', { timeout: 30_000 }, async () => {
      const queued = { cmd: 'publish', topic: 'old/cmd', payload: Buffer.from('stale'), qos: 1, messageId: 7, dup: false, retain: false } as const;
      const script: BrokerScript = { keepSessions: true, holdQos2Ids: true, pubrec: 'never', queuedForSession: [queued] };
      const broker = await startScriptedBroker(script);
      const earlierHeard = new Recorder();
      const earlier = new MqttSession(earlierHeard);
      const heard = new Recorder();
      const session = new MqttSession(heard);
      try {
        // The earlier process: three QoS 2 publishes the broker holds unreleased, then it dies.
        await connected(earlier, earlierHeard, options(broker.url, protocolVersion));
        for (const n of [1, 2, 3]) earlier.publish('t', `earlier ${n}`, 2, false, 10_000, () => {});
        await pollUntil('the earlier publishes held', () => broker.accepted.length === 3);
        await earlier.close(false);
        script.pubrec = 'immediate';

        await connected(session, heard, options(broker.url, protocolVersion));
        assert.deepEqual(heard.connects, ['ok'], 'one CONNECT attempt, and it succeeded');
        const connects = broker.log.filter((packet) => packet.cmd === 'connect');
        assert.deepEqual(
          connects.map((packet) => packet.clean),
          [false, false, true, false],
          'earlier; stale; discard; new session',
        );
        assert.equal(broker.disconnects[0]?.reasonCode, protocolVersion === 5 ? 0x82 : undefined, 'MQTT 5 closes with Protocol Error');
        const answers = await Promise.all([1, 2, 3].map((n) => publish(session, `now ${n}`, 2)));
        assert.deepEqual(answers, [undefined, undefined, undefined]);
        assert.equal(broker.droppedDuplicates, 0, 'no new publish reused a held id');
        assert.deepEqual(
          broker.accepted.slice(3).map((message) => message.payload),
          ['now 1', 'now 2', 'now 3'],
          'the broker took every acked publish',
        );
        assert.deepEqual(heard.messages, [], 'the stale session’s queued message reached no device');
      } finally {
        await session.close(false);
        await broker.close();
      }
    });

    test('a broker that says Session Present to every CONNECT, the clean one too: the attempt fails by name, each connection closed', { timeout: 30_000 }, async () => {
      const broker = await startScriptedBroker({ alwaysSessionPresent: true });
      const heard = new Recorder();
      const session = new MqttSession(heard);
      try {
        await connected(session, heard, options(broker.url, protocolVersion));
        assert.deepEqual(heard.connects, [`discarding a stale session: ${STALE_SESSION}`]);
        assert.equal(broker.connects, 2, 'stale, then the clean connection meant to discard it');
        // The client has sent both DISCONNECTs; the broker reads the second one in its own time.
        await pollUntil('the broker to read both DISCONNECTs', () => broker.disconnects.length >= 2);
        const reasons = broker.disconnects.map((disconnect) => disconnect.reasonCode);
        assert.deepEqual(reasons, protocolVersion === 5 ? [0x82, 0x82] : [undefined, undefined]);
        assert.equal(session.connected, false);
      } finally {
        await session.close(false);
        await broker.close();
      }
    });

    test("the run's last DISCONNECT: MQTT 5 sets Session Expiry 0 unless keepSessionAtEnd; MQTT 3.1.1 cannot", { timeout: 30_000 }, async () => {
      for (const keepSessionAtEnd of [false, true]) {
        const broker = await startScriptedBroker({ keepSessions: true });
        const heard = new Recorder();
        const session = new MqttSession(heard);
        try {
          await connected(session, heard, options(broker.url, protocolVersion, { keepSessionAtEnd }));
          assert.equal(await publish(session, 'one', 1), undefined);
          await session.close(true);
          await pollUntil('the DISCONNECT', () => broker.disconnects.length === 1);
          await pollUntil('the connection closed at the broker', () => protocolVersion === 4 || keepSessionAtEnd || broker.sessionsKept().length === 0);
          const ended = protocolVersion === 5 && !keepSessionAtEnd;
          assert.equal(broker.disconnects[0]?.sessionExpiry, ended ? 0 : undefined);
          assert.deepEqual(broker.sessionsKept(), ended ? [] : [`stale-${protocolVersion}`]);
        } finally {
          await broker.close();
        }
      }
    });
  });
}

let temp: TempDir;
before(async () => {
  temp = await TempDir.create();
});
after(async () => {
  await temp.remove();
});

const DEVICES = 4;

/** Each publish has a topic of its own and says which run sent it, so an independent subscriber can count run B's. */
function lamp(version: string): string {
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
    repeat: 10
    publish: { topic: "devices/{{ device.id }}/q1/{{ seq }}", qos: 1, ackTimeout: 20s, payload: "{{ env.RUN }}" }
  - name: qos2
    weight: 1
    repeat: 10
    publish: { topic: "devices/{{ device.id }}/q2/{{ seq }}", qos: 2, ackTimeout: 20s, payload: "{{ env.RUN }}" }
wait: { model: constant, time: 20ms }
`;
}

async function profileFor(version: string): Promise<string> {
  const name = `stale-${version}-${Math.random().toString(36).slice(2)}`;
  await temp.write(`${name}.device.yaml`, lamp(version));
  return temp.write(`${name}.yaml`, `kind: profile\nseed: 11\nfleet:\n  - device: ${name}.device.yaml\n    count: ${DEVICES}\nspawnRate: 200\n`);
}

/** Run A: publishing until `inFlight` holds, then SIGKILLed (no DISCONNECT, nothing released). */
async function killedRun(profile: string, broker: string, inFlight: () => boolean): Promise<void> {
  const run = startCli(['run', profile, '--broker', broker, '--iterations', '1000', '--quiet'], 60_000, undefined, undefined, { RUN: 'A' });
  try {
    await pollUntil('run A to have publishes in flight', inFlight, 30_000);
  } finally {
    run.child.kill('SIGKILL');
    await run.done;
  }
}

/** Run B: the same profile and seed, so the same client ids; its results. */
async function nextRun(profile: string, broker: string): Promise<Results> {
  const json = temp.file(`run-b-${Math.random().toString(36).slice(2)}.json`);
  const run = startCli(['run', profile, '--broker', broker, '--iterations', '20', '--json', json, '--quiet'], 60_000, undefined, undefined, { RUN: 'B' });
  const result = await run.done;
  assert.equal(result.code, 0, result.stderr);
  return JSON.parse(await readFile(json, 'utf8')) as Results;
}

function acked(results: Results): number {
  return results.stats.filter((row) => row.type === 'PUBLISH').reduce((sum, row) => sum + row.requests - row.failures, 0);
}

describe('a killed run, then the next run with the same client ids', () => {
  for (const version of ['3.1.1', '5']) {
    test(`MQTT ${version}, scripted broker holding QoS 2 ids: every publish run B counts as acked was taken by the broker`, { timeout: 90_000 }, async (t) => {
      const script: BrokerScript = { keepSessions: true, holdQos2Ids: true, pubrec: 'never' };
      const broker = await startScriptedBroker(script);
      try {
        const profile = await profileFor(version);
        const heldBy = (): number => new Set(broker.accepted.filter((message) => message.qos === 2).map((message) => message.clientId)).size;
        await killedRun(profile, broker.url, () => heldBy() === DEVICES);
        const fromRunA = broker.accepted.length;
        script.pubrec = 'immediate';
        const results = await nextRun(profile, broker.url);
        const taken = broker.accepted.slice(fromRunA).filter((message) => message.payload === 'B');
        t.diagnostic(`run B acked ${acked(results)}; broker took ${taken.length}; ${broker.droppedDuplicates} dropped as duplicates`);
        assert.equal(acked(results), DEVICES * 20 * 10);
        assert.equal(broker.droppedDuplicates, 0);
        assert.equal(taken.length, acked(results));
        const connect = results.stats.find((row) => row.type === 'CONNECT');
        assert.deepEqual([connect?.requests, connect?.failures], [DEVICES, 0], 'one CONNECT attempt per device, each ok');
        // Run B's last DISCONNECT: MQTT 5 ends the sessions, MQTT 3.1.1 cannot.
        assert.equal(broker.sessionsKept().length, version === '5' ? 0 : DEVICES);
      } finally {
        await broker.close();
      }
    });
  }

  const skip = mosquittoSkip();
  for (const version of ['3.1.1', '5']) {
    test(`MQTT ${version}, Mosquitto: an independent subscriber receives every publish run B counts as acked`, { skip, timeout: 90_000 }, async (t) => {
      const broker = await startMosquitto();
      let subscriber: MqttClient | undefined;
      try {
        const profile = await profileFor(version);
        subscriber = await connectAsync(broker.url, { reconnectPeriod: 0 }, false);
        const received = { A: 0, B: new Set<string>() };
        subscriber.on('message', (topic, payload) => {
          if (payload.toString() === 'B') received.B.add(topic);
          else received.A++;
        });
        await subscriber.subscribeAsync('devices/#', { qos: 2 });
        // Run A is killed mid-burst: QoS 1 and 2 publishes in flight, PUBRECs unanswered, no DISCONNECT.
        await killedRun(profile, broker.url, () => received.A >= DEVICES * 20);
        const results = await nextRun(profile, broker.url);
        const expected = acked(results);
        await pollUntil('the subscriber to receive run B', () => received.B.size >= expected, 10_000).catch(() => {});
        t.diagnostic(`run A delivered ${received.A}; run B acked ${expected}, the subscriber received ${received.B.size}`);
        assert.equal(expected, DEVICES * 20 * 10);
        assert.equal(received.B.size, expected);
      } finally {
        await subscriber?.endAsync(true);
        await broker.stop();
      }
    });
  }
});
