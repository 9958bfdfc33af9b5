import { keepaliveWheel } from './keepalive-wheel.ts';
import type { KeepaliveWheel, WheelEntry } from './keepalive-wheel.ts';

/** What a keepalive needs of its connection. */
export interface KeepaliveOwner {
  ping(): void;
  keepaliveExpired(): void;
}

/**
 * Ticks per keepalive interval. A write only sets a flag (nothing on the hot path reads a clock),
 * so silence is measured in ticks: a session is pinged after a whole interval without a write,
 * at most one tick late, which keeps the broker's wait under 1.25 intervals (it allows 1.5).
 */
export const TICKS_PER_INTERVAL = 4;

/**
 * MQTT keepalive as real clients keep it: an idle session sends one PINGREQ per keepalive interval
 * (not two, which would double a fleet's idle load on the broker), a busy one none, and the
 * connection expires when a whole interval passes without PINGRESP. Its ticks come from the
 * process's keepalive wheel: one timer for all sessions, not one per session.
 */
export class Keepalive implements WheelEntry {
  /** Set by every write; a tick that finds it set starts counting silence again. */
  sentSinceTick = false;
  wheelDue = -1;
  wheelSlot = -1;
  wheelIndex = -1;
  /** Milliseconds between ticks; 0 while stopped. */
  private periodMs = 0;
  private silentTicks = 0;
  /** Ticks since an unanswered PINGREQ, or -1 when none is outstanding. */
  private unansweredTicks = -1;

  constructor(
    private readonly owner: KeepaliveOwner,
    private readonly wheel: KeepaliveWheel = keepaliveWheel,
  ) {}

  start(seconds: number): void {
    // CONNECT was the last write and the broker's clock starts at it: count the first interval from now.
    this.sentSinceTick = false;
    this.silentTicks = 0;
    if (seconds <= 0) return;
    this.periodMs = (seconds * 1000) / TICKS_PER_INTERVAL;
    this.wheel.schedule(this, this.periodMs);
  }

  stop(): void {
    this.periodMs = 0;
    this.wheel.remove(this);
  }

  answered(): void {
    this.unansweredTicks = -1;
  }

  wheelFire(): void {
    this.tick();
    if (this.periodMs > 0) this.wheel.schedule(this, this.periodMs);
  }

  tick(): void {
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
      this.wheel.pinged();
      this.owner.ping();
    }
    // The PINGREQ is this tick's write: the next interval counts from here.
    this.sentSinceTick = false;
    this.silentTicks = 0;
  }
}
