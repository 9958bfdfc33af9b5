/** Where the acks of received messages are written. */
export interface AckWriter {
  write(packet: Buffer): void;
}

/**
 * A device that takes time over each message it receives (a slow backend consumer): the PUBACK or
 * PUBREC of each QoS 1/2 message goes out `delayMs` after the previous one, in the order received.
 * The broker's in-flight window to the device (its Receive Maximum) then fills, and what the broker
 * queues or drops beyond it is what a slow subscriber costs, as with a real one.
 */
export class InboundProcessing {
  private readonly waiting: Buffer[] = [];
  private timer: NodeJS.Timeout | undefined;

  constructor(
    private readonly writer: AckWriter,
    private readonly delayMs: number,
  ) {}

  ack(packet: Buffer): void {
    this.waiting.push(packet);
    this.timer ??= setTimeout(this.next, this.delayMs);
  }

  private readonly next = (): void => {
    const packet = this.waiting.shift();
    if (packet) this.writer.write(packet);
    this.timer = this.waiting.length > 0 ? setTimeout(this.next, this.delayMs) : undefined;
  };

  /** The connection closed: acks not yet sent never will be (the broker resends on a persistent session). */
  stop(): void {
    clearTimeout(this.timer);
    this.timer = undefined;
    this.waiting.length = 0;
  }
}
