import { performance } from 'node:perf_hooks';
import { addCounts, emptyCounts, SeqSet } from '../../metrics/delivery.ts';
import type { DeliveryCounts, DeliveryPublisher, DeliverySubscription, DeliverySummary } from '../../metrics/delivery.ts';
import type { StatsEntry } from '../../metrics/stats.ts';
import type { RunPlan } from '../../profile/types.ts';
import { modelTasks } from '../../profile/types.ts';
import type { MqttAttempt } from './mqtt-attempt.ts';
import { readUserProperty } from '../../transport/mqtt/mqtt-publish-extras.ts';
import { compileFilter, matchingFilter, sharedGroup } from './topic-match.ts';
import type { TopicMatcher } from './topic-match.ts';

/** The MQTT 5 user property that carries the header when a publish asks for `delivery: property`. */
export const DELIVERY_PROPERTY = 'fleetsim-delivery';
/** "fsd1": a payload that starts with these four bytes carries the 20-byte header. */
const MAGIC = 0x66736431;
export const HEADER_BYTES = 20;
/** The drain ends once no measured message arrived for this long. */
const QUIET_MS = 1000;
const POLL_MS = 50;

/** Whether some publish of the run carries a delivery header: only then is delivery tracked. */
export function measuresDelivery(plan: RunPlan): boolean {
  const tasks = plan.fleet.flatMap(({ model }) => modelTasks(model));
  return tasks.some((task) => task.steps.some((step) => step.action.kind === 'publish' && step.action.delivery !== undefined));
}

/** Milliseconds since the epoch with sub-microsecond resolution: comparable across processes on one host. */
function epochMs(): number {
  return performance.timeOrigin + performance.now();
}

type Counts = ReturnType<typeof emptyCounts>;

/** What one publisher sent with a header: its acked seqs per topic (a publisher usually has one topic). */
class PublisherRecord {
  readonly acked = new Map<string, SeqSet>();
}

/** What one subscription received from one publisher. */
class ReceivedFrom {
  readonly seqs = new SeqSet();
  duplicates = 0;
  outOfOrder = 0;
  /** The highest seq each receiving device got, for order (a shared group has several). */
  readonly highest = new Map<number, number>();
}

/**
 * One subscription as delivery counts it: a `$share` group once for the whole run, an ordinary
 * subscription once per subscribing device. It expects what was published after it was first in place.
 */
class DeliveryGroup {
  readonly from = new Map<number, ReceivedFrom>();
  readonly subscribers = new Set<number>();
  /**
   * Each publisher's next seq when the first SUBACK came: from there on, every acked publish is
   * expected. One sent earlier may have reached the broker before or after it took the subscription
   * (the broker orders by when it reads, not when we sent): it counts if it arrived, and is not lost if not.
   */
  start: Map<number, number> | undefined;
  /** Its DELIVER row, made at the first receipt: a subscription that gets no measured message adds none. */
  stats: StatsEntry | undefined;

  /** Whether a topic matches the subscription's filter (a shared one's without `$share/GROUP/`). */
  readonly matches: TopicMatcher;

  constructor(
    readonly name: string,
    filter: string,
    readonly shared: boolean,
  ) {
    this.matches = compileFilter(matchingFilter(filter));
  }
}

/**
 * End-to-end delivery: publishers stamp each measured publish with (device index, seq, send time);
 * subscribers record a DELIVER row (latency from send to receipt) and which seqs arrived. At the end,
 * after a drain, what was acked and never arrived is lost. Only runs with a measured publish make one.
 */
export class DeliveryTracker {
  private readonly nextSeqs: Uint32Array;
  /** Publishers that have sent a measured publish, in the order they first did. */
  private readonly active: number[] = [];
  private readonly publishers = new Map<number, PublisherRecord>();
  private readonly groups = new Map<string, DeliveryGroup>();
  /** Each subscriber's groups by the index of their filter among its subscriptions (ReactionInbox.filters). */
  private readonly bySubscriber = new Map<number, (DeliveryGroup | undefined)[]>();
  private stray: StatsEntry | undefined;
  private lastArrival = 0;
  /** While draining: expected messages not yet received. */
  private missing = -1;
  private drain: Pick<DeliverySummary, 'drainMs' | 'drainEnded'> = { drainMs: 0, drainEnded: 'quiet' };

  constructor(
    devices: number,
    private readonly entryFor: (type: string, name: string) => StatsEntry,
    private readonly idOf: (index: number) => string,
  ) {
    this.nextSeqs = new Uint32Array(devices);
  }

  /** Numbers a measured publish of `publisher`. */
  nextSeq(publisher: number): number {
    const seq = this.nextSeqs[publisher] as number;
    if (seq === 0) this.active.push(publisher);
    this.nextSeqs[publisher] = seq + 1;
    return seq;
  }

  /** The 20-byte payload prefix: magic, device index, seq, send time (epoch ms as a double). */
  prefix(publisher: number, seq: number): Buffer {
    const header = Buffer.allocUnsafe(HEADER_BYTES);
    header.writeUInt32BE(MAGIC, 0);
    header.writeUInt32BE(publisher, 4);
    header.writeUInt32BE(seq, 8);
    header.writeDoubleBE(epochMs(), 12);
    return header;
  }

  /** The user property's value: `index:seq:sendTimeMs`. */
  propertyValue(publisher: number, seq: number): string {
    return `${publisher}:${seq}:${epochMs().toFixed(3)}`;
  }

  /** A measured publish was acked (QoS 0: written): it is expected wherever a subscription matches `topic`. */
  acked(publisher: number, topic: string, seq: number): void {
    let record = this.publishers.get(publisher);
    if (!record) this.publishers.set(publisher, (record = new PublisherRecord()));
    let seqs = record.acked.get(topic);
    if (!seqs) record.acked.set(topic, (seqs = new SeqSet()));
    seqs.add(seq);
  }

  /**
   * A device's MQTT attempt ended: a measured publish acked, or a subscription granted, counts from
   * here. `slot` is a subscription's index among the device's filters.
   */
  attemptEnded(device: number, attempt: MqttAttempt, ok: boolean, slot: number): void {
    if (attempt.inTask) {
      if (ok && attempt.deliverySeq >= 0) this.acked(device, attempt.target, attempt.deliverySeq);
      attempt.deliverySeq = -1;
    } else if (ok && attempt.stats && slot >= 0) {
      this.subscribed(device, attempt.target, attempt.stats.name, slot);
    }
  }

  /** A subscriber's SUBSCRIBE of its filter number `slot` was granted; its messages count from the first grant on. */
  subscribed(subscriber: number, filter: string, name: string, slot: number): void {
    const shared = sharedGroup(filter) !== undefined;
    const key = shared ? filter : `${subscriber} ${filter}`;
    let group = this.groups.get(key);
    if (!group) this.groups.set(key, (group = new DeliveryGroup(name, filter, shared)));
    // Only publishers that have sent: a fleet of subscribers each with its own snapshot of every device would not fit.
    group.start ??= new Map(this.active.map((index) => [index, this.nextSeqs[index] as number]));
    if (group.subscribers.has(subscriber)) return;
    group.subscribers.add(subscriber);
    let own = this.bySubscriber.get(subscriber);
    if (!own) this.bySubscriber.set(subscriber, (own = []));
    own[slot] = group;
  }

  /** The first of the subscriber's groups whose filter the message matched (`matched`: 1 per matching slot). */
  private groupFor(subscriber: number, matched: Uint8Array): DeliveryGroup | undefined {
    const own = this.bySubscriber.get(subscriber);
    if (!own) return undefined;
    for (let slot = 0; slot < own.length; slot++) if (matched[slot] === 1 && own[slot]) return own[slot];
    return undefined;
  }

  /**
   * A message reached `subscriber`, its topic already matched against the subscriber's filters
   * (`matched`, by slot). One with a header is recorded; returns the payload without the header, so
   * reactions see what the publisher's template rendered.
   */
  /** The send time (epoch ms) in the header of the message `received` last read; NaN when it had none. */
  lastSentMs = NaN;

  received(subscriber: number, topic: string, payload: Buffer, properties: Buffer | undefined, matched: Uint8Array | undefined): Buffer {
    this.lastSentMs = NaN;
    let publisher: number;
    let seq: number;
    let sentMs: number;
    let body = payload;
    if (payload.length >= HEADER_BYTES && payload.readUInt32BE(0) === MAGIC) {
      publisher = payload.readUInt32BE(4);
      seq = payload.readUInt32BE(8);
      sentMs = payload.readDoubleBE(12);
      body = payload.subarray(HEADER_BYTES);
    } else {
      const value = properties && readUserProperty(properties, DELIVERY_PROPERTY);
      if (!value) return payload;
      const [index, number, ms] = value.split(':');
      publisher = Number(index);
      seq = Number(number);
      sentMs = Number(ms);
      if (!Number.isInteger(publisher) || !Number.isInteger(seq) || !Number.isFinite(sentMs)) return payload;
    }
    const now = epochMs();
    this.lastSentMs = sentMs;
    this.lastArrival = now;
    const group = matched && this.groupFor(subscriber, matched);
    const stats = group ? (group.stats ??= this.entryFor('DELIVER', group.name)) : (this.stray ??= this.entryFor('DELIVER', '(no measured subscription)'));
    stats.record('ok', undefined, (now - sentMs) * 1000, -1, payload.length, false, true);
    if (group) this.count(group, subscriber, topic, publisher, seq);
    return body;
  }

  private count(group: DeliveryGroup, subscriber: number, topic: string, publisher: number, seq: number): void {
    let from = group.from.get(publisher);
    if (!from) group.from.set(publisher, (from = new ReceivedFrom()));
    if (from.seqs.add(seq)) {
      from.duplicates++;
      return;
    }
    const highest = from.highest.get(subscriber) ?? -1;
    if (seq < highest) from.outOfOrder++;
    else from.highest.set(subscriber, seq);
    if (this.missing > 0 && this.wasExpected(group, publisher, topic, seq)) this.missing--;
  }

  private wasExpected(group: DeliveryGroup, publisher: number, topic: string, seq: number): boolean {
    return seq >= (group.start?.get(publisher) ?? 0) && (this.publishers.get(publisher)?.acked.get(topic)?.has(seq) ?? false);
  }

  /**
   * After the publishers' last acks: waits until every expected message arrived, or none arrived for
   * a second, or `maxMs` passed. What is still missing then counts as lost.
   */
  async settle(maxMs: number): Promise<void> {
    const started = epochMs();
    this.missing = this.tally().total.lost;
    this.lastArrival = Math.max(this.lastArrival, started);
    let ended: DeliverySummary['drainEnded'] = 'all expected delivered';
    while (this.missing > 0) {
      const now = epochMs();
      if (now - started >= maxMs) {
        ended = 'timeout';
        break;
      }
      if (now - this.lastArrival >= QUIET_MS) {
        ended = 'quiet';
        break;
      }
      await new Promise((resolve) => setTimeout(resolve, POLL_MS));
    }
    this.missing = -1;
    this.drain = { drainMs: Math.round(epochMs() - started), drainEnded: ended };
  }

  summary(): DeliverySummary {
    const { total, subscriptions, publishers } = this.tally();
    return { ...this.drain, total, subscriptions, publishers };
  }

  /** Every subscription's and publisher's counts, from the seqs acked and received. */
  private tally(): Pick<DeliverySummary, 'total' | 'subscriptions' | 'publishers'> {
    const byPublisher = new Map<number, Counts>();
    const subscriptions = new Map<string, DeliverySubscription & Counts>();
    for (const group of this.groups.values()) {
      const counts = this.groupCounts(group, byPublisher);
      if (counts.expected === 0 && counts.delivered === 0) continue;
      const key = `${group.shared ? 'shared' : 'own'} ${group.name}`;
      let row = subscriptions.get(key);
      if (!row) subscriptions.set(key, (row = { name: group.name, shared: group.shared, subscribers: 0, ...emptyCounts() }));
      addCounts(row, counts);
      (row as { subscribers: number }).subscribers += group.subscribers.size;
    }
    const total = { published: 0, acked: 0, ...emptyCounts() };
    const publishers: DeliveryPublisher[] = [];
    for (const index of [...this.active].sort((a, b) => a - b)) {
      const published = this.nextSeqs[index] as number;
      const acked = [...(this.publishers.get(index)?.acked.values() ?? [])].reduce((sum, seqs) => sum + seqs.size, 0);
      const counts = byPublisher.get(index) ?? emptyCounts();
      publishers.push({ device: this.idOf(index), deviceIndex: index, published, acked, ...counts });
      total.published += published;
      total.acked += acked;
    }
    for (const row of subscriptions.values()) addCounts(total, row);
    return { total, subscriptions: [...subscriptions.values()].sort((a, b) => a.name.localeCompare(b.name)), publishers };
  }

  private groupCounts(group: DeliveryGroup, byPublisher: Map<number, Counts>): DeliveryCounts {
    const counts = emptyCounts();
    const indices = new Set([...this.publishers.keys(), ...group.from.keys()]);
    for (const index of indices) {
      const from = group.from.get(index);
      const own = emptyCounts();
      let received = 0;
      const start = group.start?.get(index) ?? 0;
      for (const [topic, acked] of this.publishers.get(index)?.acked ?? []) {
        if (!group.matches(topic)) continue;
        for (const seq of acked.from(0)) {
          const got = from?.seqs.has(seq) === true;
          // Sent before the subscription was surely in place: expected only if it arrived.
          if (seq < start && !got) continue;
          own.expected++;
          if (got) received++;
          else own.lost++;
        }
      }
      own.delivered = from?.seqs.size ?? 0;
      own.unacked = own.delivered - received;
      own.duplicates = from?.duplicates ?? 0;
      own.outOfOrder = from?.outOfOrder ?? 0;
      addCounts(counts, own);
      let publisher = byPublisher.get(index);
      if (!publisher) byPublisher.set(index, (publisher = emptyCounts()));
      addCounts(publisher, own);
    }
    return counts;
  }
}
