/**
 * A count that changes at moments (devices off the network, reboots), recorded in time order, with
 * what offered load needs of it in O(log n): its integral up to a time (device-ms down), and how
 * many steps up happened up to a time (reboots).
 */
export class DownTimeline {
  private readonly times: number[] = [];
  /** The count from times[i] on. */
  private readonly counts: number[] = [];
  /** ∫ count up to times[i]. */
  private readonly integrals: number[] = [];
  /** Steps up (each +1) up to and including times[i]. */
  private readonly rises: number[] = [];

  /** The count changes by `delta` at `atMs` (not before the last change). */
  change(atMs: number, delta: number): void {
    const last = this.times.length - 1;
    const at = Math.max(atMs, this.times[last] ?? atMs);
    const count = (this.counts[last] ?? 0) + delta;
    const integral = last < 0 ? 0 : (this.integrals[last] as number) + (this.counts[last] as number) * (at - (this.times[last] as number));
    const rises = (this.rises[last] ?? 0) + Math.max(0, delta);
    this.times.push(at);
    this.counts.push(count);
    this.integrals.push(integral);
    this.rises.push(rises);
  }

  /** ∫₀ᵗ count. */
  integral(t: number): number {
    const i = this.indexAt(t);
    if (i < 0) return 0;
    return (this.integrals[i] as number) + (this.counts[i] as number) * (t - (this.times[i] as number));
  }

  /** Steps up at or before `t`. */
  risesBy(t: number): number {
    const i = this.indexAt(t);
    return i < 0 ? 0 : (this.rises[i] as number);
  }

  /** The last change at or before `t`, or -1. */
  private indexAt(t: number): number {
    let low = 0;
    let high = this.times.length - 1;
    let found = -1;
    while (low <= high) {
      const mid = (low + high) >> 1;
      if ((this.times[mid] as number) <= t) {
        found = mid;
        low = mid + 1;
      } else high = mid - 1;
    }
    return found;
  }
}
