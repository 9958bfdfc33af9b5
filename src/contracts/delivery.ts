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
