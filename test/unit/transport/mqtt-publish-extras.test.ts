import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { parser } from 'mqtt-packet';
import type { IPublishPacket, Packet } from 'mqtt-packet';
import { encodePublishWith, PropertyWriter, PublishProperty, readUserProperty } from '../../../src/transport/mqtt/mqtt-publish-extras.ts';

function parsed(bytes: Buffer, protocolVersion: 4 | 5): IPublishPacket {
  const packets: Packet[] = [];
  const reading = parser({ protocolVersion });
  reading.on('packet', (packet: Packet) => packets.push(packet));
  reading.on('error', (error: Error) => assert.fail(error));
  reading.parse(bytes);
  assert.equal(packets.length, 1);
  return packets[0] as IPublishPacket;
}

describe('PUBLISH with a prefix and properties', () => {
  const properties = new PropertyWriter()
    .uint32(PublishProperty.MessageExpiry, 60)
    .bytes(PublishProperty.ContentType, 'application/json', 'content type')
    .bytes(PublishProperty.ResponseTopic, 'r/1', 'response topic')
    .bytes(PublishProperty.CorrelationData, 'c-1', 'correlation data')
    .user('k', 'v')
    .user('fleetsim-delivery', '3:7:1.5')
    .finish();

  test('MQTT 5: mqtt-packet reads back every property and the payload after the prefix, at every length size', () => {
    for (const size of [0, 100, 200, 20_000, 3_000_000]) {
      const payload = 'p'.repeat(size);
      const packet = parsed(encodePublishWith('a/b', payload, 1, false, 9, true, { prefix: Buffer.from('HEAD'), properties }), 5);
      assert.equal(packet.topic, 'a/b');
      assert.equal(packet.messageId, 9);
      assert.equal(packet.payload.toString(), `HEAD${payload}`);
      assert.equal(packet.properties?.messageExpiryInterval, 60);
      assert.equal(packet.properties?.contentType, 'application/json');
      assert.equal(packet.properties?.responseTopic, 'r/1');
      assert.equal(packet.properties?.correlationData?.toString(), 'c-1');
      assert.deepEqual({ ...packet.properties?.userProperties }, { k: 'v', 'fleetsim-delivery': '3:7:1.5' });
    }
  });

  test('MQTT 3.1.1: the prefix goes, the properties do not (the version has none)', () => {
    const packet = parsed(encodePublishWith('a/b', 'x', 0, true, 0, false, { prefix: Buffer.from([1, 2]), properties }), 4);
    assert.deepEqual([...Buffer.from(packet.payload).subarray(0, 2)], [1, 2]);
    assert.equal(packet.retain, true);
    assert.equal(packet.properties, undefined);
  });

  test('readUserProperty finds a user property among the others, or nothing', () => {
    const list = Buffer.concat([Buffer.from([(properties as Buffer).length]), properties as Buffer]);
    assert.equal(readUserProperty(list, 'fleetsim-delivery'), '3:7:1.5');
    assert.equal(readUserProperty(list, 'absent'), undefined);
  });
});
