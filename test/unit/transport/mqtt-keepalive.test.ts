import assert from 'node:assert/strict';
import { afterEach, beforeEach, describe, mock, test } from 'node:test';
import { Keepalive } from '../../../src/transport/mqtt/mqtt-keepalive.ts';
import type { KeepaliveOwner } from '../../../src/transport/mqtt/mqtt-keepalive.ts';

/** A connection whose pings the broker answers (or not), and whose writes are at the test's call. */
class Owner implements KeepaliveOwner {
  readonly pings: number[] = [];
  expiredAt = -1;
  readonly keepalive = new Keepalive(this);
  answering = true;

  constructor(private readonly clock: { now: number }) {}

  ping(): void {
    this.pings.push(this.clock.now);
    // As MqttConnection.write does for every packet, the PINGREQ among them.
    this.keepalive.sentSinceTick = true;
    if (this.answering) this.keepalive.answered();
  }

  keepaliveExpired(): void {
    assert.equal(this.expiredAt, -1, 'a connection expires once');
    this.expiredAt = this.clock.now;
  }
}

describe('keepalive', () => {
  const clock = { now: 0 };
  beforeEach(() => {
    mock.timers.enable({ apis: ['setInterval'] });
    clock.now = 0;
  });
  afterEach(() => mock.timers.reset());

  function advance(ms: number, step = 250, each?: (now: number) => void): void {
    for (let t = 0; t < ms; t += step) {
      clock.now += step;
      mock.timers.tick(step);
      each?.(clock.now);
    }
  }

  test('an idle session pings once per interval: 10 s keepalive, 6 PINGREQs in 60 s, 10 s apart', () => {
    const owner = new Owner(clock);
    owner.keepalive.start(10);
    advance(60_000);
    assert.deepEqual(owner.pings, [10_000, 20_000, 30_000, 40_000, 50_000, 60_000]);
    assert.equal(owner.expiredAt, -1);
  });

  test('a session that writes more often than the interval never pings', () => {
    const owner = new Owner(clock);
    owner.keepalive.start(10);
    advance(60_000, 250, (now) => {
      if (now % 9_000 === 0) owner.keepalive.sentSinceTick = true;
    });
    assert.deepEqual(owner.pings, []);
  });

  test('after its last write, the broker hears from the session within 1.25 intervals', () => {
    const owner = new Owner(clock);
    owner.keepalive.start(10);
    // A write just after a tick is the worst case: the tick that sees it is almost a quarter interval later.
    advance(2_600, 100);
    owner.keepalive.sentSinceTick = true;
    const wroteAt = clock.now;
    advance(20_000, 100);
    const first = owner.pings[0] ?? Number.POSITIVE_INFINITY;
    assert.ok(first - wroteAt <= 12_500 && first - wroteAt >= 10_000, `pinged ${first - wroteAt} ms after the last write`);
  });

  test('a PINGREQ unanswered for a whole interval expires the connection, without a second ping', () => {
    const owner = new Owner(clock);
    owner.answering = false;
    owner.keepalive.start(2);
    advance(10_000);
    assert.deepEqual(owner.pings, [2_000]);
    assert.equal(owner.expiredAt, 4_000);
  });
});
