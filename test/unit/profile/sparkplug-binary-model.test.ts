import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { SparkplugTally } from '../../../src/metrics/sparkplug.ts';
import { SparkplugNode } from '../../../src/engine/mqtt/sparkplug/node.ts';
import type { BoundSparkplug, SparkplugDevice } from '../../../src/engine/mqtt/sparkplug/node.ts';
import { StatsEntry } from '../../../src/metrics/stats.ts';
import { TempDir, loadErrorFor, loadPlanFor } from '../../helpers/temp-files.ts';

let temp: TempDir;
before(async () => {
  temp = await TempDir.create();
});
after(async () => {
  await temp.remove();
});

const edge = (sparkplug: string, task = '  - { name: DDATA, every: 1s, sparkplug: DDATA }'): string => `kind: device
name: edge
sparkplug:
${sparkplug}
tasks:
${task}
`;

const publishing = (payload: string): string => `kind: device
name: bin
tasks:
  - publish:
      topic: t
${payload}
`;

describe('sparkplug and binary payloads: mistakes refused at their field, with file and line', () => {
  const cases: [string, string, RegExp][] = [
    [edge('  group: g\n  devices: 2'), 'sparkplug.devices', /devices need deviceMetrics/],
    [edge('  group: g', '  - { name: D, every: 1s, sparkplug: DDATA }'), 'tasks[0].sparkplug', /DDATA needs sparkplug.devices/],
    [edge('  group: a/b'), 'sparkplug.group', /does not match.*no \+, # or \//],
    [edge('  group: g\n  devices: 1\n  deviceMetrics: [{ name: bdSeq, type: Int64, value: 1 }]'), 'sparkplug.deviceMetrics[0].name', /sent by fleetsim itself/],
    [edge('  group: g\n  devices: 1\n  deviceMetrics: [{ name: t, type: Decimal, value: 1 }]'), 'sparkplug.deviceMetrics[0].type', /Int8/],
    [publishing('      hex: "0g"'), 'tasks[0].publish.hex', /not hex/],
    [publishing('      json: {}\n      cbor: {}'), 'tasks[0].publish.cbor', /give one payload/],
    [publishing('      protobuf: { file: missing.proto, type: a.B }'), 'tasks[0].publish.protobuf.file', /missing\.proto/],
  ];
  for (const [text, field, message] of cases) {
    test(`${field}: ${message.source}`, async () => {
      const error = await loadErrorFor(temp, text);
      assert.match(error.message, /\.device\.yaml:\d+:\d+: /);
      assert.equal(error.field, field);
      assert.match(error.message, message);
    });
  }

  test('a protobuf field the message type lacks is refused with the fields it has', async () => {
    await temp.write('m.proto', 'syntax = "proto3";\npackage p;\nmessage M { int32 a = 1; }\n');
    const error = await loadErrorFor(temp, publishing(`      protobuf: { file: m.proto, type: p.M, fields: { b: "1" } }`));
    assert.equal(error.field, 'tasks[0].publish.protobuf.fields.b');
    assert.match(error.message, /no field 'b' \(fields: a\)/);
  });
});

describe('Sparkplug edge node', () => {
  test('seq runs 0..255 and wraps; bdSeq moves on every connect and wraps; a DDATA step bursts one per device', async () => {
    const plan = await loadPlanFor(temp, edge('  group: g\n  devices: 3\n  deviceMetrics: [{ name: t, type: Double, value: "{{ float(0, 1, 2) }}" }]'));
    const model = plan.fleet[0]?.model;
    assert.ok(model?.sparkplug);
    assert.equal(model.tasks[0]?.steps[0]?.repeat, 3);
    const stats = new StatsEntry('PUBLISH', 'x');
    const bound: BoundSparkplug = { spec: model.sparkplug, nbirth: stats, dbirth: stats, commands: stats, state: undefined };
    const device = {
      deviceId: 'n1',
      deviceIndex: 0,
      deviceModel: 'edge',
      seq: 0,
      random: () => 0.5,
      walks: [],
      vars: [],
      repeatIndex: 0,
      data: [],
      timeMs: 0,
      link: undefined,
      resumeParked: () => undefined,
      recordAttempt: () => undefined,
      attemptStarted: () => 0,
    } satisfies SparkplugDevice;
    const tally = new SparkplugTally();
    const node = new SparkplugNode(bound, device, tally);
    assert.deepEqual(node.topics.ddata, ['spBv1.0/g/DDATA/n1/d0', 'spBv1.0/g/DDATA/n1/d1', 'spBv1.0/g/DDATA/n1/d2']);
    const seqs = Array.from({ length: 600 }, () => node.nextSeq());
    assert.equal(seqs[255], 255);
    assert.equal(seqs[256], 0);
    assert.equal(Math.max(...seqs), 255);
    const wills = Array.from({ length: 258 }, () => node.nextWill());
    assert.equal(wills[0]?.qos, 1);
    assert.equal(tally.summary().nodes[0]?.bdSeq, 257 % 256);
  });
});
