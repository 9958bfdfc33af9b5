import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { generate, parser } from 'mqtt-packet';
import type { Packet } from 'mqtt-packet';
import {
  MalformedPacketError,
  PacketReader,
  PacketType,
  defaultServerLimits,
  encodeAck,
  encodePublish,
  encodeSubscribe,
  readServerLimits,
  reasonLabel,
} from '../../../src/transport/mqtt/mqtt-codec.ts';

/** What mqtt-packet, the reference codec, reads from bytes we wrote. */
function parsed(bytes: Buffer, protocolVersion: 4 | 5): Packet[] {
  const packets: Packet[] = [];
  const reading = parser({ protocolVersion });
  reading.on('packet', (packet: Packet) => packets.push(packet));
  reading.on('error', (error: Error) => assert.fail(error));
  reading.parse(bytes);
  return packets;
}

interface Seen {
  type: PacketType;
  flags: number;
  body: string;
}

function reader(): { seen: Seen[]; reader: PacketReader } {
  const seen: Seen[] = [];
  return {
    seen,
    reader: new PacketReader({
      packet: (type, flags, buffer, start, end) => seen.push({ type, flags, body: buffer.subarray(start, end).toString('hex') }),
    }),
  };
}

describe('PUBLISH and SUBSCRIBE as written', () => {
  for (const protocolVersion of [4, 5] as const) {
    test(`MQTT ${protocolVersion === 5 ? '5' : '3.1.1'}: mqtt-packet reads back topic, payload, QoS, retain and packet id, at every length size`, () => {
      // 1-, 2- and 3-byte remaining lengths, and multi-byte UTF-8 in topic and payload.
      for (const payload of ['', 'on', 'é€'.repeat(100), 'x'.repeat(20_000)]) {
        for (const qos of [0, 1, 2] as const) {
          const topic = 'devices/lämp-ä1/changed';
          const [packet] = parsed(encodePublish(topic, payload, qos, qos === 1, qos === 0 ? 0 : 65_535, protocolVersion === 5), protocolVersion);
          assert.ok(packet?.cmd === 'publish');
          assert.equal(packet.topic, topic);
          assert.equal(packet.payload.toString(), payload);
          assert.equal(packet.qos, qos);
          assert.equal(packet.retain, qos === 1);
          assert.equal(packet.messageId, qos === 0 ? undefined : 65_535);
        }
      }
    });

    test(`MQTT ${protocolVersion === 5 ? '5' : '3.1.1'}: a SUBSCRIBE and the four acks read back with their ids`, () => {
      const [subscribe] = parsed(encodeSubscribe('devices/+/ota', 2, 7, protocolVersion === 5), protocolVersion);
      assert.ok(subscribe?.cmd === 'subscribe');
      assert.equal(subscribe.messageId, 7);
      assert.deepEqual(
        subscribe.subscriptions.map(({ topic, qos }) => ({ topic, qos })),
        [{ topic: 'devices/+/ota', qos: 2 }],
      );
      const acks = Buffer.concat(([PacketType.Puback, PacketType.Pubrec, PacketType.Pubrel, PacketType.Pubcomp] as const).map((type, i) => encodeAck(type, 300 + i)));
      assert.deepEqual(
        parsed(acks, protocolVersion).map((packet) => [packet.cmd, 'messageId' in packet ? packet.messageId : undefined]),
        [
          ['puback', 300],
          ['pubrec', 301],
          ['pubrel', 302],
          ['pubcomp', 303],
        ],
      );
    });
  }
});

describe('PacketReader', () => {
  const stream = Buffer.concat([
    generate({ cmd: 'connack', returnCode: 0, sessionPresent: false }),
    generate({ cmd: 'puback', messageId: 1 }),
    generate({ cmd: 'publish', topic: 't', payload: Buffer.alloc(200, 1), qos: 1, messageId: 9, retain: false, dup: false }),
    generate({ cmd: 'pingresp' }),
  ]);
  const expected = [
    { type: PacketType.Connack, flags: 0, body: '0000' },
    { type: PacketType.Puback, flags: 0, body: '0001' },
    { type: PacketType.Publish, flags: 2, body: `000174${'0009'}${'01'.repeat(200)}` },
    { type: PacketType.Pingresp, flags: 0, body: '' },
  ];

  test('reads packets that arrive together in one chunk', () => {
    const { seen, reader: reading } = reader();
    reading.push(stream);
    assert.deepEqual(seen, expected);
  });

  test('reads packets split at every byte, length bytes included', () => {
    const { seen, reader: reading } = reader();
    for (let i = 0; i < stream.length; i++) reading.push(stream.subarray(i, i + 1));
    assert.deepEqual(seen, expected);
  });

  test('a length of more than four bytes is a malformed packet, not a wait for more', () => {
    const { reader: reading } = reader();
    assert.throws(() => reading.push(Buffer.from([0x30, 0xff, 0xff, 0xff, 0xff, 0x01])), MalformedPacketError);
  });
});

test('reason codes are labelled with their MQTT texts, unknown ones by number', () => {
  assert.equal(reasonLabel(135), 'reason 135 Not authorized');
  assert.equal(reasonLabel(5, 'Connection refused: '), 'reason 5 Connection refused: Not authorized');
  assert.equal(reasonLabel(250), 'reason 250');
});

test("a v5 CONNACK's limits are read from among every other kind of property", () => {
  const connack = generate(
    {
      cmd: 'connack',
      sessionPresent: false,
      reasonCode: 0,
      properties: {
        sessionExpiryInterval: 300,
        assignedClientIdentifier: 'given-id',
        receiveMaximum: 7,
        reasonString: 'welcome',
        userProperties: { region: 'eu', tier: ['a', 'b'] },
        maximumQoS: 0,
        retainAvailable: false,
        maximumPacketSize: 4096,
        topicAliasMaximum: 10,
        wildcardSubscriptionAvailable: true,
        serverKeepAlive: 15,
        responseInformation: 'info',
        authenticationMethod: 'none',
        authenticationData: Buffer.from([1, 2, 3]),
      },
    },
    { protocolVersion: 5 },
  );
  const limits = defaultServerLimits();
  // Fixed header (2 bytes for this size), then acknowledge flags and reason code.
  const end = readServerLimits(connack, 4, connack.length, limits);
  assert.equal(end, connack.length);
  assert.deepEqual(limits, { keepaliveS: 15, receiveMaximum: 7, maximumQos: 0, retainAvailable: false, maximumPacketSize: 4096 });
  assert.throws(() => readServerLimits(Buffer.from([0x02, 0x13, 0x00]), 0, 3, limits), /property 19 cut short/);
  assert.throws(() => readServerLimits(Buffer.from([0x03, 0x21, 0x00, 0x00]), 0, 4, limits), /Receive Maximum 0/);
});
