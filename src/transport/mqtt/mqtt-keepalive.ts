/** What a keepalive needs of its connection. */
export interface KeepaliveOwner {
  ping(): void;
  keepaliveExpired(): void;
}

function tick(keepalive: Keepalive): void {
  keepalive.tick();
}

/**
 * Ticks per keepalive interval. A write only sets a flag (nothing on the hot path reads a clock),
 * so silence is measured in ticks: a session is pinged after a whole interval without a write,
 * at most one tick late, which keeps the broker's wait under 1.25 intervals (it allows 1.5).
 */
export const TICKS_PER_INTERVAL = 4;

/**
 * MQTT keepalive on one timer per connection, as real clients keep it: an idle session sends one
 * PINGREQ per keepalive interval (not two, which would double a fleet's idle load on the broker),
 * a busy one none, and the connection expires when a whole interval passes without PINGRESP.
 */
export class Keepalive {
  /** Set by every write; a tick that finds it set starts counting silence again. */
  sentSinceTick = false;
  private timer: NodeJS.Timeout | undefined;
  private silentTicks = 0;
  /** Ticks since an unanswered PINGREQ, or -1 when none is outstanding. */
  private unansweredTicks = -1;

  constructor(private readonly owner: KeepaliveOwner) {}

  start(seconds: number): void {
    // CONNECT was the last write and the broker's clock starts at it: count the first interval from now.
    this.sentSinceTick = false;
    this.silentTicks = 0;
    if (seconds > 0) this.timer = setInterval(tick, (seconds * 1000) / TICKS_PER_INTERVAL, this);
  }

  stop(): void {
    clearInterval(this.timer);
    this.timer = undefined;
  }

  answered(): void {
    this.unansweredTicks = -1;
  }

  tick(): void {
    // A tick already queued when the connection stopped its keepalive has nothing left to do.
    if (this.timer === undefined) return;
    if (this.unansweredTicks >= 0 && ++this.unansweredTicks >= TICKS_PER_INTERVAL) {
      this.stop();
      this.owner.keepaliveExpired();
      return;
    }
    if (this.sentSinceTick) {
      this.sentSinceTick = false;
      this.silentTicks = 0;
      return;
    }
    if (++this.silentTicks < TICKS_PER_INTERVAL) return;
    // A ping still unanswered is not repeated; its interval runs out first.
    if (this.unansweredTicks < 0) {
      this.unansweredTicks = 0;
      this.owner.ping();
    }
    // The PINGREQ is this tick's write: the next interval counts from here.
    this.sentSinceTick = false;
    this.silentTicks = 0;
  }
}
