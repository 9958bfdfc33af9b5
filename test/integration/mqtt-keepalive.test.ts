import assert from 'node:assert/strict';
import { setTimeout as delay } from 'node:timers/promises';
import { describe, test } from 'node:test';
import { MqttSession } from '../../src/transport/mqtt/mqtt.ts';
import type { SessionListener } from '../../src/transport/mqtt/mqtt.ts';
import { pollUntil } from '../helpers/poll.ts';
import { startScriptedBroker } from '../helpers/scripted-broker.ts';

class Listener implements SessionListener {
  connected = false;
  readonly losses: string[] = [];
  connectEnded(outcome: string): void {
    this.connected = outcome === 'ok';
  }
  connectionLost(reason: string): void {
    this.losses.push(reason);
  }
  message(): void {}
}

/**
 * An idle session watched for `watchS` seconds on a broker that counts PINGREQs. The claim is about
 * a rate, so the watch is the time itself, not a condition to poll for.
 */
async function idlePings(keepaliveS: number, watchS: number, protocolVersion: 4 | 5): Promise<{ pings: number[]; losses: string[] }> {
  const broker = await startScriptedBroker();
  const heard = new Listener();
  const session = new MqttSession(heard);
  try {
    const { hostname, port } = new URL(broker.url);
    session.connect({
      host: hostname,
      port: Number(port),
      tls: undefined,
      clientId: `idle-${keepaliveS}`,
      protocolVersion,
      clean: true,
      keepaliveS,
      username: undefined,
      password: undefined,
      will: undefined,
      connectTimeoutMs: 5_000,
    });
    await pollUntil('the session to connect', () => heard.connected);
    const connectedAt = Date.now();
    await delay(watchS * 1000);
    const pings = broker.log.filter((packet) => packet.cmd === 'pingreq').map((packet) => packet.at - connectedAt);
    return { pings, losses: heard.losses };
  } finally {
    await session.close(true);
    await broker.close();
  }
}

describe('an idle session pings once per keepalive interval, as real clients do', { concurrency: true }, () => {
  test('keepalive 10 s: 6 ± 1 PINGREQs in 60 s', { timeout: 90_000 }, async () => {
    const { pings, losses } = await idlePings(10, 60, 4);
    assert.ok(pings.length >= 5 && pings.length <= 7, `${pings.length} PINGREQs at ${pings.join(', ')} ms`);
    assert.deepEqual(losses, []);
  });

  test('keepalive 2 s (MQTT 5): 6 ± 1 PINGREQs in 12 s, each about one interval after the last', { timeout: 30_000 }, async () => {
    const { pings, losses } = await idlePings(2, 12, 5);
    assert.ok(pings.length >= 5 && pings.length <= 7, `${pings.length} PINGREQs at ${pings.join(', ')} ms`);
    for (let i = 1; i < pings.length; i++) {
      const gap = (pings[i] as number) - (pings[i - 1] as number);
      // One interval, give or take a timer tick on a loaded machine; half an interval would be ~1000.
      assert.ok(gap >= 1_700 && gap <= 2_600, `gap ${gap} ms between PINGREQs ${i - 1} and ${i}`);
    }
    assert.deepEqual(losses, []);
  });
});
