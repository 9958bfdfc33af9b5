import assert from 'node:assert/strict';
import { readFile } from 'node:fs/promises';
import { after, before, describe, test } from 'node:test';
import type { Results } from '../../src/metrics/results.ts';
import { runCli } from '../helpers/cli.ts';
import { startScriptedBroker } from '../helpers/scripted-broker.ts';
import type { LoggedPacket } from '../helpers/scripted-broker.ts';
import { TempDir } from '../helpers/temp-files.ts';

/** MQTT 5 properties a device model sets, as the broker receives them from fleetsim's own client. */

let temp: TempDir;
before(async () => {
  temp = await TempDir.create();
});
after(async () => {
  await temp.remove();
});

const DEVICE = `kind: device
name: thermostat
identity: { scheme: pattern, pattern: "th-{index:2}" }
mqtt:
  version: "5"
  receiveMaximum: 7
  userProperties:
    site: plant-{{ device.id }}
    fw: "1.4"
tasks:
  - name: reading
    publish:
      topic: t/{{ device.id }}/reading
      qos: 1
      payload: "{{ seq }}"
      properties:
        messageExpiry: 90s
        contentType: text/plain
        responseTopic: t/{{ device.id }}/reply
        correlationData: "req-{{ seq }}"
        user:
          device: "{{ device.id }}"
          kind: reading
  - name: plain
    publish:
      topic: t/{{ device.id }}/plain
      qos: 1
      payload: x
wait: { model: constant, time: 20ms }
`;

async function runAgainstScripted(device: string): Promise<{ results: Results; log: readonly LoggedPacket[] }> {
  const broker = await startScriptedBroker({});
  try {
    const model = await temp.write(`props-${Math.random().toString(36).slice(2)}.device.yaml`, device);
    const profile = await temp.write(`props-${Math.random().toString(36).slice(2)}.yaml`, `kind: profile\nseed: 5\nfleet:\n  - device: ${model}\n    count: 3\nspawnRate: 100\n`);
    const json = temp.file(`props-${Math.random().toString(36).slice(2)}.json`);
    const result = await runCli(['run', profile, '--broker', broker.url, '--iterations', '6', '--json', json, '--quiet'], 60_000);
    assert.equal(result.code, 0, result.stderr);
    return { results: JSON.parse(await readFile(json, 'utf8')) as Results, log: [...broker.log] };
  } finally {
    await broker.close();
  }
}

describe('MQTT 5 properties from the device model', () => {
  test('CONNECT and PUBLISH carry the properties rendered per device; a publish without them carries none', { timeout: 60_000 }, async () => {
    const { results, log } = await runAgainstScripted(DEVICE);
    assert.equal(results.total.failures, 0, JSON.stringify(results.failures));
    const connects = log.filter((packet) => packet.cmd === 'connect');
    assert.equal(connects.length, 3);
    for (const connect of connects) {
      const properties = connect.properties as { userProperties?: Record<string, string>; receiveMaximum?: number };
      assert.equal(properties.receiveMaximum, 7);
      assert.match(properties.userProperties?.site ?? '', /^plant-th-\d\d$/);
      assert.equal(properties.userProperties?.fw, '1.4');
    }
    assert.equal(new Set(connects.map((connect) => (connect.properties as { userProperties: Record<string, string> }).userProperties.site)).size, 3, 'rendered per device');
    const readings = log.filter((packet) => packet.cmd === 'publish' && packet.topic?.endsWith('/reading'));
    assert.ok(readings.length > 0, 'some readings were published');
    for (const reading of readings) {
      const id = /^t\/(th-\d\d)\/reading$/.exec(reading.topic ?? '')?.[1];
      assert.ok(id, reading.topic);
      const properties = reading.properties as { messageExpiryInterval: number; contentType: string; responseTopic: string; correlationData: Buffer; userProperties: Record<string, string> };
      assert.equal(properties.messageExpiryInterval, 90);
      assert.equal(properties.contentType, 'text/plain');
      assert.equal(properties.responseTopic, `t/${id}/reply`);
      // The payload is the device's seq, and the correlation data was rendered from the same seq.
      assert.equal(properties.correlationData.toString(), `req-${reading.payload ?? ''}`);
      assert.deepEqual({ ...properties.userProperties }, { device: id, kind: 'reading' });
    }
    const plain = log.filter((packet) => packet.cmd === 'publish' && packet.topic?.endsWith('/plain'));
    assert.ok(plain.length > 0);
    assert.ok(
      plain.every((packet) => packet.properties === undefined || Object.keys(packet.properties).length === 0),
      'no properties where none are set',
    );
  });
});

// Delivery headers as user properties: the run reads every received property list for one.
const LISTENER = `kind: device
name: listener
identity: { scheme: pattern, pattern: "ls-{index}" }
mqtt: { version: "5", reconnect: { min: 100ms, max: 200ms } }
tasks:
  - name: report
    publish:
      topic: t/{{ device.id }}
      qos: 1
      delivery: property
      payload: "{{ seq }}"
wait: { model: constant, time: 20ms }
on:
  - topic: t/#
    qos: 1
`;

/** PUBLISH QoS 0 to `t/x`: its property list holds two bytes, a user property's id and half its name's length. */
const TRUNCATED_USER_PROPERTY = Buffer.from([0x30, 10, 0x00, 0x03, 0x74, 0x2f, 0x78, 0x02, 0x26, 0x00, 0x68, 0x69]);

describe('a property list from the broker cut short', () => {
  test('a PUBLISH with a truncated user property: the connection ends as malformed, the device reconnects, the run goes on', { timeout: 60_000 }, async () => {
    const broker = await startScriptedBroker({ beforeFirstSuback: [TRUNCATED_USER_PROPERTY] });
    try {
      const model = await temp.write('listener.device.yaml', LISTENER);
      const profile = await temp.write('listener.yaml', `kind: profile\nseed: 3\nfleet:\n  - device: ${model}\n    count: 1\nspawnRate: 10\n`);
      const json = temp.file('listener.json');
      const result = await runCli(['run', profile, '--broker', broker.url, '--iterations', '30', '--json', json, '--quiet'], 60_000);
      assert.equal(result.code, 0, result.stderr);
      assert.doesNotMatch(result.stderr, /RangeError|at .*\.ts:\d+/u);
      const results = JSON.parse(await readFile(json, 'utf8')) as Results;
      // The SUBSCRIBE waiting for its SUBACK fails with the connection, and so may a publish in flight then: nothing else fails.
      for (const failure of results.failures) assert.match(failure.error, /^connection lost: malformed packet: property 38 cut short$/u, JSON.stringify(results.failures));
      assert.equal(broker.connects, 2, 'one reconnect after the malformed packet');
      const subscribe = results.stats.find((row) => row.type === 'SUBSCRIBE');
      assert.deepEqual([subscribe?.requests, subscribe?.failures], [2, 1], 'the first SUBSCRIBE failed, the one after the reconnect was granted');
      const publish = results.stats.find((row) => row.type === 'PUBLISH');
      assert.equal(publish?.requests, 30);
      assert.ok((publish?.failures ?? 1) <= 1, `at most the publish in flight failed: ${publish?.failures}`);
    } finally {
      await broker.close();
    }
  });
});
