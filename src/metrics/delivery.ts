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

/** How completely one subscription received the measured publishes, as `results.delivery` reports it. */
export interface DeliveryCounts {
  /**
   * What the subscription should get: publishes on topics it matches, acked (QoS 0: written), sent after
   * its first SUBACK arrived; one sent earlier counts only if it arrived (it may have reached the broker first).
   */
  readonly expected: number;
  /** Distinct messages received (each publisher's seq once). */
  readonly delivered: number;
  /** Expected and never received, after the delivery drain. */
  readonly lost: number;
  /** Messages received again (the same publisher and seq). */
  readonly duplicates: number;
  /** Messages received after a later one from the same publisher, on the same session. */
  readonly outOfOrder: number;
  /** Received, though the publisher never had its ack in time (a timeout or failure): never expected. */
  readonly unacked: number;
}

export interface DeliverySubscription extends DeliveryCounts {
  /** The DELIVER row's name: the filter as written, templates as `+`. */
  readonly name: string;
  /** `$share` subscriptions count once per group; ordinary ones once per subscribing device. */
  readonly shared: boolean;
  /** Devices that subscribed. */
  readonly subscribers: number;
}

export interface DeliveryPublisher extends DeliveryCounts {
  readonly device: string;
  readonly deviceIndex: number;
  /** Publishes sent with a delivery header. */
  readonly published: number;
  readonly acked: number;
}

/** `results.delivery`: end-to-end delivery of publishes sent with a delivery header. */
export interface DeliverySummary {
  /** How long the run waited after the last publish for deliveries to arrive, and why it stopped waiting. */
  readonly drainMs: number;
  readonly drainEnded: 'all expected delivered' | 'quiet' | 'timeout';
  readonly total: DeliveryCounts & { readonly published: number; readonly acked: number };
  readonly subscriptions: readonly DeliverySubscription[];
  /** Per publisher, summed over the subscriptions that match its topics. */
  readonly publishers: readonly DeliveryPublisher[];
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
