/** What a keepalive needs of its connection. */
export interface KeepaliveOwner {
  ping(): void;
  keepaliveExpired(): void;
}

function tick(keepalive: Keepalive): void {
  keepalive.tick();
}

/**
 * MQTT keepalive on one timer per connection, ticking every half keepalive: a PINGREQ when nothing
 * else was sent since the last tick (so the broker never waits longer than one keepalive), and
 * expiry when a whole keepalive passed without PINGRESP.
 */
export class Keepalive {
  /** Set by every write; a tick that finds it set owes no ping. */
  sentSinceTick = false;
  private timer: NodeJS.Timeout | undefined;
  private unansweredTicks = -1;

  constructor(private readonly owner: KeepaliveOwner) {}

  start(seconds: number): void {
    if (seconds > 0) this.timer = setInterval(tick, seconds * 500, this);
  }

  stop(): void {
    clearInterval(this.timer);
    this.timer = undefined;
  }

  answered(): void {
    this.unansweredTicks = -1;
  }

  tick(): void {
    if (this.unansweredTicks >= 0) {
      if (++this.unansweredTicks >= 2) this.owner.keepaliveExpired();
      return;
    }
    if (!this.sentSinceTick) {
      this.owner.ping();
      this.unansweredTicks = 0;
    }
    this.sentSinceTick = false;
  }
}
