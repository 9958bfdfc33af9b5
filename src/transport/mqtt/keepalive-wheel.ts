/** What the wheel keeps of each scheduled session: where it sits, and what to call when it is due. */
export interface WheelEntry {
  /** The wheel tick it is due at; -1 when not scheduled. */
  wheelDue: number;
  /** Its slot, or -1 while not in one (unscheduled, or taken out for firing). */
  wheelSlot: number;
  /** Its position in the slot, so it leaves in O(1) by swapping with the last. */
  wheelIndex: number;
  wheelFire(): void;
}

/** Slots per turn (a power of two); an entry due later than one turn stays in its slot for more turns. */
const SLOTS = 256;
const MASK = SLOTS - 1;
/** Lateness buckets: whole milliseconds below 1 s, then 100 ms steps up to ~5 min. */
const FINE = 1000;
const BUCKETS = FINE + 3000;

function bucketOf(lateMs: number): number {
  if (lateMs < FINE) return lateMs <= 0 ? 0 : Math.floor(lateMs);
  return Math.min(BUCKETS - 1, FINE + Math.floor((lateMs - FINE) / 100));
}

function bucketUpperMs(bucket: number): number {
  return bucket < FINE ? bucket + 1 : FINE + (bucket - FINE + 1) * 100;
}

/** The keepalive path's counts so far: its checks, PINGREQs sent, and how late each check ran. */
export interface KeepaliveCounts {
  checks: number;
  pings: number;
  maxLateMs: number;
  readonly late: Uint32Array;
}

/** Checks, PINGREQs and lateness of the keepalive path between two snapshots (a run's own share of the process's). */
export interface KeepaliveSummary {
  readonly checks: number;
  readonly pingsSent: number;
  /** How late checks ran against their due time (the event loop's delay on the keepalive path), rounded up to the millisecond below 1 s, 100 ms above. */
  readonly lateP50Ms: number;
  readonly lateP99Ms: number;
  readonly lateMaxMs: number;
}

function emptyCounts(): KeepaliveCounts {
  return { checks: 0, pings: 0, maxLateMs: 0, late: new Uint32Array(BUCKETS) };
}

/**
 * One timer for every MQTT session's keepalive in the process: a hashed timing wheel of
 * `resolutionMs` ticks. A session costs a few fields instead of a Timeout (with its arguments
 * array and heap numbers), a check costs no timer callback of its own, and each check's lateness
 * is measured once per tick for all the sessions in it. Ticks are taken from the clock, not
 * counted from callbacks, so a starved loop catches up on every tick it missed and the lateness
 * shows it. The timer is a timeout aimed at each tick's boundary and made again after each.
 */
export class KeepaliveWheel {
  private readonly slots: WheelEntry[][] = Array.from({ length: SLOTS }, () => []);
  private spare: WheelEntry[] = [];
  private timer: NodeJS.Timeout | undefined;
  private origin = 0;
  /** The last tick processed. */
  private tick = 0;
  private processing = false;
  private size = 0;
  private readonly counts = emptyCounts();

  constructor(
    readonly resolutionMs = 250,
    private readonly now: () => number = () => performance.now(),
  ) {}

  /** Schedules `entry` `delayMs` from now, rounded up to a tick; an entry already scheduled moves. */
  schedule(entry: WheelEntry, delayMs: number): void {
    if (entry.wheelDue >= 0) this.remove(entry);
    if (this.timer === undefined) this.startTimer();
    // From inside a tick, the next check counts from that tick, so a late loop keeps each session's cadence.
    const base = this.processing ? this.tick : Math.max(this.tick, this.clockTick());
    entry.wheelDue = base + Math.max(1, Math.ceil(delayMs / this.resolutionMs));
    this.size++;
    this.insert(entry);
  }

  remove(entry: WheelEntry): void {
    if (entry.wheelDue < 0) return;
    entry.wheelDue = -1;
    this.size--;
    const slot = entry.wheelSlot;
    if (slot >= 0) {
      const list = this.slots[slot] as WheelEntry[];
      const last = list.pop() as WheelEntry;
      if (last !== entry) {
        list[entry.wheelIndex] = last;
        last.wheelIndex = entry.wheelIndex;
      }
      entry.wheelSlot = -1;
    }
    if (this.size === 0 && !this.processing) this.stopTimer();
  }

  /** A PINGREQ went out. */
  pinged(): void {
    this.counts.pings++;
  }

  /** A copy of the counts so far, to summarise a run's share later with `since`. */
  snapshot(): KeepaliveCounts {
    return { checks: this.counts.checks, pings: this.counts.pings, maxLateMs: this.counts.maxLateMs, late: this.counts.late.slice() };
  }

  /** What happened since `before` (the max is the process's since its start: it cannot be taken apart). */
  since(before: KeepaliveCounts): KeepaliveSummary {
    const late = this.counts.late;
    const checks = this.counts.checks - before.checks;
    const quantile = (q: number): number => {
      if (checks === 0) return 0;
      const rank = Math.ceil(q * checks);
      let seen = 0;
      for (let i = 0; i < BUCKETS; i++) {
        seen += (late[i] as number) - (before.late[i] as number);
        if (seen >= rank) return bucketUpperMs(i);
      }
      return bucketUpperMs(BUCKETS - 1);
    };
    return { checks, pingsSent: this.counts.pings - before.pings, lateP50Ms: quantile(0.5), lateP99Ms: quantile(0.99), lateMaxMs: checks === 0 ? 0 : Math.round(this.counts.maxLateMs) };
  }

  private clockTick(): number {
    return Math.floor((this.now() - this.origin) / this.resolutionMs);
  }

  private startTimer(): void {
    this.origin = this.now();
    this.tick = 0;
    this.timer = setTimeout(advance, this.resolutionMs, this);
  }

  private stopTimer(): void {
    clearTimeout(this.timer);
    this.timer = undefined;
  }

  private insert(entry: WheelEntry): void {
    const slot = entry.wheelDue & MASK;
    const list = this.slots[slot] as WheelEntry[];
    entry.wheelSlot = slot;
    entry.wheelIndex = list.length;
    list.push(entry);
  }

  /** Runs every tick from the last processed up to the clock's. */
  advance(): void {
    const now = this.now();
    const target = Math.floor((now - this.origin) / this.resolutionMs);
    this.processing = true;
    try {
      while (this.tick < target && this.size > 0) this.fire(++this.tick, now);
    } finally {
      this.processing = false;
    }
    if (this.size === 0) return this.stopTimer();
    // Aimed at the next tick's boundary, not an interval after this callback: an interval's drift
    // would show as lateness that no session suffered.
    this.timer = setTimeout(advance, Math.max(1, Math.ceil(this.origin + (this.tick + 1) * this.resolutionMs - this.now())), this);
  }

  private fire(tick: number, now: number): void {
    const slot = tick & MASK;
    const list = this.slots[slot] as WheelEntry[];
    if (list.length === 0) return;
    // Entries that fire may schedule again into this very slot (a later turn): into a fresh array.
    this.slots[slot] = this.spare;
    for (const entry of list) entry.wheelSlot = -1;
    const lateMs = now - (this.origin + tick * this.resolutionMs);
    const counts = this.counts;
    const bucket = bucketOf(lateMs);
    for (let i = 0; i < list.length; i++) {
      const entry = list[i] as WheelEntry;
      // Removed by an earlier entry's work, or already scheduled again.
      if (entry.wheelDue < 0 || entry.wheelSlot >= 0) continue;
      if (entry.wheelDue > tick) {
        this.insert(entry);
        continue;
      }
      entry.wheelDue = -1;
      this.size--;
      counts.checks++;
      counts.late[bucket] = (counts.late[bucket] as number) + 1;
      if (lateMs > counts.maxLateMs) counts.maxLateMs = lateMs;
      entry.wheelFire();
    }
    list.length = 0;
    this.spare = list;
  }
}

function advance(wheel: KeepaliveWheel): void {
  wheel.advance();
}

/** The process's wheel, which every MQTT connection's keepalive uses unless given another. */
export const keepaliveWheel = new KeepaliveWheel();
