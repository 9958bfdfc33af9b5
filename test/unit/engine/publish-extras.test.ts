import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { DELIVERY_PROPERTY, DeliveryTracker } from '../../../src/engine/mqtt/delivery.ts';
import type { MqttAttempt } from '../../../src/engine/mqtt/mqtt-attempt.ts';
import { publishExtrasPlan, publishWithExtras } from '../../../src/engine/mqtt/publish-extras.ts';
import type { ExtrasSource } from '../../../src/engine/mqtt/publish-extras.ts';
import { RunStats } from '../../../src/metrics/stats.ts';
import type { PublishAction, PublishProperties } from '../../../src/profile/types.ts';
import { literalTemplate } from '../../../src/template/compile.ts';
import type { CompiledTemplate } from '../../../src/template/compile.ts';
import { PropertyWriter, PublishProperty, readUserProperty } from '../../../src/transport/mqtt/mqtt-publish-extras.ts';
import type { PublishExtras } from '../../../src/transport/mqtt/mqtt-publish-extras.ts';
import type { MqttSession } from '../../../src/transport/mqtt/mqtt.ts';

/** A template that varies: its value is whatever `next` says at the publish. */
function varying(next: () => string): CompiledTemplate {
  return { source: '{{ x }}', constant: undefined, evaluate: next };
}

function action(properties: PublishProperties | undefined, delivery: PublishAction['delivery']): PublishAction {
  return { kind: 'publish', qos: 1, retain: false, timeoutMs: 1000, properties, delivery } as unknown as PublishAction;
}

function properties(user: readonly (readonly [string, CompiledTemplate])[]): PublishProperties {
  return { messageExpiryS: 60, contentType: literalTemplate('text/plain'), responseTopic: undefined, correlationData: undefined, userProperties: user };
}

/** Sends one publish of `plan` and returns the extras the session was handed. */
function sendOne(step: PublishAction, delivery?: DeliveryTracker): PublishExtras {
  const plan = publishExtrasPlan(step);
  assert.ok(plan);
  let sent: PublishExtras | undefined;
  const session = { publish: (...args: unknown[]) => (sent = args[6] as PublishExtras) } as unknown as MqttSession;
  const attempt = { target: 't', body: 'x', deliverySeq: -1, onAck: () => assert.fail('the publish was refused') } as unknown as MqttAttempt;
  publishWithExtras(session, attempt, plan, { deviceIndex: 3 } as ExtrasSource, delivery);
  assert.ok(sent);
  return sent;
}

const withLength = (list: Buffer): Buffer => Buffer.concat([Buffer.from([list.length]), list]);

describe('publish extras planned per step', () => {
  test('publishes with neither properties nor a delivery header get no plan', () => {
    assert.equal(publishExtrasPlan(action(undefined, undefined)), undefined);
    assert.equal(publishExtrasPlan({ kind: 'subscribe', qos: 1, timeoutMs: 1000 } as unknown as PublishAction), undefined);
  });

  test('a constant list is encoded once, when the step is planned, and sent as is', () => {
    const plan = publishExtrasPlan(action(properties([['kind', literalTemplate('reading')]]), undefined));
    const expected = new PropertyWriter().uint32(PublishProperty.MessageExpiry, 60).bytes(PublishProperty.ContentType, 'text/plain', 'content type').user('kind', 'reading').finish();
    assert.deepEqual(plan?.constantList, expected);
    assert.equal(plan?.varying, undefined);
    assert.equal(sendOne(action(properties([['kind', literalTemplate('reading')]]), undefined)).properties?.equals(expected as Buffer), true);
  });

  test('a list with a varying template is rendered at each publish', () => {
    let n = 0;
    const step = action(properties([['n', varying(() => String(++n))]]), undefined);
    assert.equal(publishExtrasPlan(step)?.constantList, undefined);
    const first = sendOne(step).properties as Buffer;
    const second = sendOne(step).properties as Buffer;
    assert.equal(readUserProperty(withLength(first), 'n'), '1');
    assert.equal(readUserProperty(withLength(second), 'n'), '2');
  });

  test('delivery: property follows the list, as the property the writer would encode', () => {
    const stats = new RunStats();
    const delivery = new DeliveryTracker(4, stats.entryFor.bind(stats), String);
    const list = sendOne(action(properties([['kind', literalTemplate('reading')]]), 'property'), delivery).properties as Buffer;
    const value = readUserProperty(withLength(list), DELIVERY_PROPERTY);
    assert.match(value ?? '', /^3:0:\d+\.\d{3}$/u);
    const constant = new PropertyWriter().uint32(PublishProperty.MessageExpiry, 60).bytes(PublishProperty.ContentType, 'text/plain', 'content type').user('kind', 'reading').finish() as Buffer;
    const expected = Buffer.concat([constant, new PropertyWriter().user(DELIVERY_PROPERTY, value ?? '').finish() as Buffer]);
    assert.deepEqual(list, expected);
    const alone = sendOne(action(undefined, 'property'), delivery).properties as Buffer;
    assert.match(readUserProperty(withLength(alone), DELIVERY_PROPERTY) ?? '', /^3:1:/u);
  });
});
