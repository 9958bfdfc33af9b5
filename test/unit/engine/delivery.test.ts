import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { DeliveryTracker, HEADER_BYTES } from '../../../src/engine/mqtt/delivery.ts';
import { RunStats } from '../../../src/metrics/stats.ts';

function tracker(devices = 4): { delivery: DeliveryTracker; stats: RunStats } {
  const stats = new RunStats();
  return { delivery: new DeliveryTracker(devices, stats.entryFor.bind(stats), (index) => `dev-${index}`), stats };
}

/** What the subscriber's filters said of a message: it matched the first (slot 0). */
const FIRST = Uint8Array.of(1);

/** Publisher `from` sends a measured publish on `topic`, acked or not; returns what a subscriber receives. */
function send(delivery: DeliveryTracker, from: number, topic: string, acked = true): Buffer {
  const seq = delivery.nextSeq(from);
  if (acked) delivery.acked(from, topic, seq);
  return Buffer.concat([delivery.prefix(from, seq), Buffer.from('{"on":true}')]);
}

describe('delivery counts', () => {
  test('lost, duplicates, out of order and received-though-unacked, per subscription and per publisher', () => {
    const { delivery, stats } = tracker();
    delivery.subscribed(0, 'devices/+/lamp', 'devices/+/lamp', 0);
    const messages = [0, 1, 2, 3, 4].map(() => send(delivery, 2, 'devices/2/lamp'));
    const unacked = send(delivery, 2, 'devices/2/lamp', false);
    // Receives 0, 2, 1 (out of order), 2 again (a duplicate), the unacked one; 3 and 4 never come.
    for (const index of [0, 2, 1, 2]) {
      const body = delivery.received(0, 'devices/2/lamp', messages[index] as Buffer, undefined, FIRST);
      assert.equal(body.toString(), '{"on":true}', 'the header is taken off');
    }
    delivery.received(0, 'devices/2/lamp', unacked, undefined, FIRST);
    const summary = delivery.summary();
    assert.deepEqual(summary.subscriptions, [{ name: 'devices/+/lamp', shared: false, subscribers: 1, expected: 5, delivered: 4, lost: 2, duplicates: 1, outOfOrder: 1, unacked: 1 }]);
    assert.deepEqual(summary.publishers, [{ device: 'dev-2', deviceIndex: 2, published: 6, acked: 5, expected: 5, delivered: 4, lost: 2, duplicates: 1, outOfOrder: 1, unacked: 1 }]);
    const row = stats.entries.find((entry) => entry.type === 'DELIVER');
    assert.equal(row?.requests, 5, 'every receipt is a DELIVER sample, the duplicate included');
  });

  test('a publish acked before the SUBACK counts only if it arrived; one after it must arrive', () => {
    const { delivery } = tracker();
    const early = [send(delivery, 1, 't/1'), send(delivery, 1, 't/1')];
    delivery.subscribed(3, 't/+', 't/+', 0);
    send(delivery, 1, 't/1');
    delivery.received(3, 't/1', early[0] as Buffer, undefined, FIRST);
    assert.deepEqual({ ...delivery.summary().total }, { published: 3, acked: 3, expected: 2, delivered: 1, lost: 1, duplicates: 0, outOfOrder: 0, unacked: 0 });
  });

  test('a $share group expects each message once across its members; topics it does not match are not expected', () => {
    const { delivery } = tracker(6);
    delivery.subscribed(0, '$share/g/a/+', '$share/g/a/+', 0);
    delivery.subscribed(1, '$share/g/a/+', '$share/g/a/+', 0);
    const messages = [send(delivery, 4, 'a/4'), send(delivery, 4, 'a/4'), send(delivery, 5, 'b/5')];
    delivery.received(0, 'a/4', messages[0] as Buffer, undefined, FIRST);
    delivery.received(1, 'a/4', messages[1] as Buffer, undefined, FIRST);
    const [group] = delivery.summary().subscriptions;
    assert.deepEqual(group, { name: '$share/g/a/+', shared: true, subscribers: 2, expected: 2, delivered: 2, lost: 0, duplicates: 0, outOfOrder: 0, unacked: 0 });
  });

  test('a message counts for the first granted subscription among the filters it matched', () => {
    const { delivery, stats } = tracker();
    delivery.subscribed(0, 'a/+', 'a/+', 1);
    delivery.subscribed(0, 'b/#', 'b/#', 2);
    // Slot 0 matched but was never granted: the message counts for slot 1, not the stray row.
    delivery.received(0, 'a/1', send(delivery, 1, 'a/1'), undefined, Uint8Array.of(1, 1, 0));
    delivery.received(0, 'c', send(delivery, 1, 'c'), undefined, Uint8Array.of(1, 0, 0));
    assert.deepEqual(
      stats.entries.filter((entry) => entry.type === 'DELIVER').map((entry) => [entry.name, entry.requests]),
      [
        ['a/+', 1],
        ['(no measured subscription)', 1],
      ],
    );
  });

  test('a payload without the header is passed on untouched and not counted', () => {
    const { delivery, stats } = tracker();
    delivery.subscribed(0, '#', '#', 0);
    const plain = Buffer.alloc(HEADER_BYTES + 4, 7);
    assert.equal(delivery.received(0, 'x', plain, undefined, FIRST), plain);
    assert.equal(stats.entries.filter((entry) => entry.type === 'DELIVER').length, 0, 'no DELIVER row for a subscription that got no measured message');
  });

  test('the drain ends at once when everything expected has arrived, else when nothing more comes', async () => {
    const { delivery } = tracker();
    delivery.subscribed(0, 't', 't', 0);
    delivery.received(0, 't', send(delivery, 1, 't'), undefined, FIRST);
    await delivery.settle(5_000);
    assert.equal(delivery.summary().drainEnded, 'all expected delivered');
    send(delivery, 1, 't');
    const started = Date.now();
    await delivery.settle(5_000);
    assert.equal(delivery.summary().drainEnded, 'quiet');
    assert.ok(Date.now() - started < 3_000, 'a quiet second, not the whole timeout');
    assert.equal(delivery.summary().total.lost, 1);
  });
});
