import type { DeliveryCounts } from '../contracts/delivery.ts';
export type { DeliveryCounts, DeliverySubscription, DeliveryPublisher, DeliverySummary } from '../contracts/delivery.ts';

/** A growable set of small non-negative integers (message seqs), one bit each. */
export class SeqSet {
  private words = new Uint32Array(4);
  size = 0;

  /** Adds `seq`; returns whether it was there already. */
  add(seq: number): boolean {
    const word = seq >>> 5;
    if (word >= this.words.length) {
      const grown = new Uint32Array(Math.max(word + 1, this.words.length * 2));
      grown.set(this.words);
      this.words = grown;
    }
    const bit = 1 << (seq & 31);
    const had = ((this.words[word] as number) & bit) !== 0;
    if (!had) {
      this.words[word] = (this.words[word] as number) | bit;
      this.size++;
    }
    return had;
  }

  has(seq: number): boolean {
    const word = seq >>> 5;
    return word < this.words.length && ((this.words[word] as number) & (1 << (seq & 31))) !== 0;
  }

  /** Every member at or above `from`, in order. */
  *from(from: number): Generator<number> {
    for (let word = from >>> 5; word < this.words.length; word++) {
      let bits = this.words[word] as number;
      if (bits === 0) continue;
      for (let bit = 0; bits !== 0; bit++, bits >>>= 1) {
        const seq = word * 32 + bit;
        if ((bits & 1) !== 0 && seq >= from) yield seq;
      }
    }
  }
}

export function emptyCounts(): { -readonly [K in keyof DeliveryCounts]: number } {
  return { expected: 0, delivered: 0, lost: 0, duplicates: 0, outOfOrder: 0, unacked: 0 };
}

export function addCounts(into: { -readonly [K in keyof DeliveryCounts]: number }, from: DeliveryCounts): void {
  into.expected += from.expected;
  into.delivered += from.delivered;
  into.lost += from.lost;
  into.duplicates += from.duplicates;
  into.outOfOrder += from.outOfOrder;
  into.unacked += from.unacked;
}
