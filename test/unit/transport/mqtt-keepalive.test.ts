import assert from 'node:assert/strict';
import { afterEach, beforeEach, describe, mock, test } from 'node:test';
import { Keepalive } from '../../../src/transport/mqtt/mqtt-keepalive.ts';
import type { KeepaliveOwner } from '../../../src/transport/mqtt/mqtt-keepalive.ts';
import { KeepaliveWheel } from '../../../src/transport/mqtt/keepalive-wheel.ts';
import type { WheelEntry } from '../../../src/transport/mqtt/keepalive-wheel.ts';

/** A connection whose pings the broker answers (or not), and whose writes are at the test's call. */
class Owner implements KeepaliveOwner {
  readonly pings: number[] = [];
  expiredAt = -1;
  readonly keepalive: Keepalive;
  answering = true;

  constructor(
    private readonly clock: { now: number },
    wheel: KeepaliveWheel,
  ) {
    this.keepalive = new Keepalive(this, wheel);
  }

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
  let wheel = new KeepaliveWheel(250, () => clock.now);
  beforeEach(() => {
    mock.timers.enable({ apis: ['setTimeout', 'setInterval'] });
    clock.now = 0;
    wheel = new KeepaliveWheel(250, () => clock.now);
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
    const owner = new Owner(clock, wheel);
    owner.keepalive.start(10);
    advance(60_000);
    assert.deepEqual(owner.pings, [10_000, 20_000, 30_000, 40_000, 50_000, 60_000]);
    assert.equal(owner.expiredAt, -1);
  });

  test('a session that writes more often than the interval never pings', () => {
    const owner = new Owner(clock, wheel);
    owner.keepalive.start(10);
    advance(60_000, 250, (now) => {
      if (now % 9_000 === 0) owner.keepalive.sentSinceTick = true;
    });
    assert.deepEqual(owner.pings, []);
  });

  test('after its last write, the broker hears from the session within 1.25 intervals', () => {
    const owner = new Owner(clock, wheel);
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
    const owner = new Owner(clock, wheel);
    owner.answering = false;
    owner.keepalive.start(2);
    advance(10_000);
    assert.deepEqual(owner.pings, [2_000]);
    assert.equal(owner.expiredAt, 4_000);
  });
});

describe('keepalive wheel', () => {
  const clock = { now: 0 };
  beforeEach(() => {
    mock.timers.enable({ apis: ['setTimeout', 'setInterval'] });
    clock.now = 0;
  });
  afterEach(() => mock.timers.reset());

  function entry(onFire: () => void): WheelEntry {
    return { wheelDue: -1, wheelSlot: -1, wheelIndex: -1, wheelFire: onFire };
  }

  test('fires each entry once at its due tick, and an entry removed before then never', () => {
    const wheel = new KeepaliveWheel(100, () => clock.now);
    const fired: string[] = [];
    const a = entry(() => fired.push(`a@${clock.now}`));
    const b = entry(() => fired.push(`b@${clock.now}`));
    const c = entry(() => fired.push(`c@${clock.now}`));
    wheel.schedule(a, 300);
    wheel.schedule(b, 300);
    wheel.schedule(c, 30_000);
    wheel.remove(b);
    for (let t = 0; t < 40_000; t += 100) {
      clock.now += 100;
      mock.timers.tick(100);
    }
    assert.deepEqual(fired, ['a@300', 'c@30000']);
    assert.equal(wheel.since({ checks: 0, pings: 0, maxLateMs: 0, late: new Uint32Array(4000) }).checks, 2);
  });

  test('a late timer catches up on every tick it missed and records how late each check ran', () => {
    const wheel = new KeepaliveWheel(100, () => clock.now);
    const before = wheel.snapshot();
    const fired: number[] = [];
    const a = entry(() => fired.push(clock.now));
    wheel.schedule(a, 200);
    // The loop was busy: the timer runs once, 1.5 s after the check was due.
    clock.now = 1_700;
    mock.timers.tick(1_700);
    assert.deepEqual(fired, [1_700]);
    const summary = wheel.since(before);
    assert.equal(summary.checks, 1);
    assert.ok(summary.lateP99Ms >= 1_500 && summary.lateP99Ms <= 1_600, `late p99 ${summary.lateP99Ms} ms`);
    assert.equal(summary.lateMaxMs, 1_500);
  });

  test('an entry that removes another due in the same tick stops it firing', () => {
    const wheel = new KeepaliveWheel(100, () => clock.now);
    const fired: string[] = [];
    const b = entry(() => fired.push('b'));
    const a = entry(() => {
      fired.push('a');
      wheel.remove(b);
    });
    wheel.schedule(a, 100);
    wheel.schedule(b, 100);
    clock.now = 100;
    mock.timers.tick(100);
    assert.deepEqual(fired, ['a']);
  });
});
