import assert from 'node:assert/strict';
import { readFile } from 'node:fs/promises';
import { after, before, describe, test } from 'node:test';
import { decode as decodeCbor } from 'cbor2';
import { connectAsync } from 'mqtt';
import protobuf from 'protobufjs';
import { startCli } from '../helpers/cli.ts';
import { mosquittoSkip, startMosquitto } from '../helpers/mosquitto.ts';
import type { MosquittoBroker } from '../helpers/mosquitto.ts';
import { pollUntil } from '../helpers/poll.ts';
import { TempDir } from '../helpers/temp-files.ts';

const skip = mosquittoSkip();
const DEVICES = 4;
const ITERATIONS = 5;

const PROTO = `syntax = "proto3";
package fleet;
message Reading {
  string device = 1;
  double temperature = 2;
  int32 seq = 3;
  bool ok = 4;
  Location where = 5;
}
message Location { float lat = 1; float lon = 2; }
`;

const DEVICE = `kind: device
name: binary
identity: { scheme: pattern, pattern: "bin-{index:2}" }
tasks:
  - steps:
      - name: proto
        publish:
          topic: bin/{{ device.id }}/proto
          qos: 1
          protobuf:
            file: reading.proto
            type: fleet.Reading
            fields:
              device: "{{ device.id }}"
              temperature: "{{ walk(10, 30, 0.5, 2) }}"
              seq: "{{ seq }}"
              ok: true
              where: { lat: 48.5, lon: "{{ float(2, 3, 3) }}" }
      - name: cbor
        publish:
          topic: bin/{{ device.id }}/cbor
          qos: 1
          cbor:
            device: "{{ device.id }}"
            token: "{{ env.BINARY_SECRET }}"
            values: ["{{ int(1, 9) }}", 2.5, false]
      - name: raw
        publish:
          topic: bin/{{ device.id }}/raw
          hex: "cafe{{ pick('00', '01') }}"
`;

let temp: TempDir;
let broker: MosquittoBroker | undefined;
before(async () => {
  temp = await TempDir.create();
});
after(async () => {
  await broker?.stop();
  await temp.remove();
});

interface LogLine {
  readonly name: string;
  readonly body: string | null;
}

describe('binary payloads', { skip }, () => {
  test('protobuf, CBOR and hex payloads decode with the libraries; the request log shows them decoded, secrets redacted', { timeout: 60_000 }, async () => {
    broker = await startMosquitto();
    await temp.write('reading.proto', PROTO);
    const device = await temp.write('binary.yaml', DEVICE);
    const profile = await temp.write('binary-profile.yaml', `kind: profile\nname: binary\nseed: 3\nfleet:\n  - device: ${device}\n    count: ${DEVICES}\nspawnRate: 100\niterations: ${ITERATIONS}\n`);
    const reading = (await protobuf.load(temp.file('reading.proto'))).lookupType('fleet.Reading');
    const client = await connectAsync(broker.url, { clientId: 'binary-subscriber' });
    const received: { kind: string; payload: Buffer }[] = [];
    client.on('message', (topic, payload) => received.push({ kind: topic.split('/')[2] ?? '', payload }));
    await client.subscribeAsync('bin/#', { qos: 1 });
    const log = temp.file('binary.ndjson');
    try {
      const run = startCli(['run', profile, '--broker', broker.url, '--log-requests', log, '--quiet'], 50_000, undefined, undefined, { BINARY_SECRET: 's3cret-value' });
      const result = await run.done;
      assert.equal(result.code, 0, result.stderr);
      await pollUntil('every payload', () => received.length === DEVICES * ITERATIONS * 3, 10_000);
    } finally {
      await client.endAsync();
    }
    const protos = received.filter((message) => message.kind === 'proto').map((message) => reading.toObject(reading.decode(message.payload)) as Record<string, unknown>);
    assert.equal(protos.length, DEVICES * ITERATIONS);
    for (const message of protos) {
      assert.match(String(message.device), /^bin-\d\d$/u);
      assert.ok(typeof message.temperature === 'number' && message.temperature >= 10 && message.temperature <= 30, JSON.stringify(message));
      assert.equal(message.ok, true);
      const where = message.where as { lat: number; lon: number };
      assert.equal(where.lat, 48.5);
      assert.ok(where.lon >= 2 && where.lon <= 3);
    }
    const cbors = received.filter((message) => message.kind === 'cbor').map((message) => decodeCbor<{ device: string; token: string; values: unknown[] }>(message.payload));
    assert.equal(cbors.length, DEVICES * ITERATIONS);
    for (const message of cbors) {
      assert.equal(message.token, 's3cret-value');
      assert.equal(message.values.length, 3);
      assert.equal(typeof message.values[0], 'number', 'a leaf that is one {{ }} keeps its type');
      assert.deepEqual(message.values.slice(1), [2.5, false]);
    }
    const raws = received.filter((message) => message.kind === 'raw').map((message) => message.payload.toString('hex'));
    assert.ok(
      raws.every((hex) => hex === 'cafe00' || hex === 'cafe01'),
      raws.join(','),
    );

    const lines = (await readFile(log, 'utf8'))
      .trim()
      .split('\n')
      .map((line) => JSON.parse(line) as LogLine);
    const cborLine = lines.find((line) => line.name === 'cbor');
    assert.ok(cborLine?.body);
    assert.ok(!cborLine.body.includes('s3cret-value'), cborLine.body);
    assert.equal((JSON.parse(cborLine.body) as { token: string }).token, '{{ env.BINARY_SECRET }}');
    const protoLine = lines.find((line) => line.name === 'proto');
    assert.match(String((JSON.parse(protoLine?.body ?? '{}') as { device?: string }).device), /^bin-\d\d$/u);
    assert.match(lines.find((line) => line.name === 'raw')?.body ?? '', /^hex:cafe0[01]$/u);
  });
});
