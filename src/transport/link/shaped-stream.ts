import { Duplex } from 'node:stream';
import { Lane } from './lane.ts';
import { linkClock } from './link-clock.ts';
import type { LinkClock, Timed } from './link-clock.ts';
import { LinkDropError } from './link-conditions.ts';
import type { LinkConditions } from './link-conditions.ts';

/** A capped link sends at most this much at once, so a large write arrives spread over its time, as packets would. */
const SLICE_BYTES = 1460;

/** The end of a direction, queued behind its data. */
const END = Symbol('end');
type Chunk = Buffer | typeof END;
type WriteCallback = (error?: Error | null) => void;

/**
 * A byte stream seen through a simulated link: each chunk either way arrives `latency ± jitter`
 * later, after it has taken its turn on a capped uplink or downlink, in order (jitter never
 * reorders a stream), and the connection is dropped when the plan says. A capped uplink calls a
 * write back when its bytes have left the device, so a writer sees the link's backpressure; an
 * uncapped one at once, as a socket's kernel buffer would.
 *
 * `connect` (or `secureConnect`, for a TLS socket handed in already wrapped) is re-emitted one
 * round trip after the inner socket's, as a TCP handshake over the link would take.
 */
export class ShapedStream extends Duplex implements Timed {
  dueAt = 0;
  heapIndex = -1;
  private upFreeAt = 0;
  private upLastArrival = 0;
  private downFreeAt = 0;
  private downLastArrival = 0;
  private readonly up: Lane<Chunk>;
  private readonly down: Lane<Chunk>;
  private readonly acks: Lane<WriteCallback>;
  private readonly ready: Lane<() => void>;
  private dropIndex = 0;
  /** Writes made before the handshake's round trip is over (a TLS client's hello): they leave once it is. */
  private beforeOpen: [Buffer, WriteCallback][] | undefined;
  private readonly upMsPerByte: number;
  private readonly downMsPerByte: number;

  constructor(
    private readonly inner: Duplex,
    private readonly link: LinkConditions,
    /** The inner socket's open event, re-emitted after the handshake's round trip; undefined when it is already open. */
    readyEvent: 'connect' | 'secureConnect' | undefined,
    private readonly clock: LinkClock = linkClock,
  ) {
    super({ allowHalfOpen: false });
    this.upMsPerByte = link.uplinkBps === undefined ? 0 : 8000 / link.uplinkBps;
    this.downMsPerByte = link.downlinkBps === undefined ? 0 : 8000 / link.downlinkBps;
    this.up = new Lane(clock, (chunk) => this.sendInner(chunk));
    this.down = new Lane(clock, (chunk) => this.receive(chunk));
    this.acks = new Lane(clock, (callback) => callback());
    this.ready = new Lane(clock, (opened) => {
      this.scheduleDrop();
      opened();
    });
    inner.on('data', (chunk: Buffer) => this.arrived(chunk));
    inner.on('end', () => this.down.push(Math.max(this.downLastArrival, this.clock.now()), END));
    inner.on('error', (error: Error) => this.destroy(error));
    inner.on('close', () => {
      // A reset or a destroyed socket: what was still on its way is lost with it.
      if (!inner.readableEnded) this.destroy();
    });
    if (readyEvent !== undefined) {
      this.beforeOpen = [];
      inner.once(readyEvent, () =>
        this.afterRoundTrip(() => {
          const waiting = this.beforeOpen ?? [];
          this.beforeOpen = undefined;
          for (const [chunk, callback] of waiting) this.sendOut(chunk, callback);
          this.emit(readyEvent);
        }),
      );
    }
  }

  /** Calls `opened` one round trip of the link from now (a handshake's), and starts counting toward drops then. */
  afterRoundTrip(opened: () => void): void {
    this.ready.push(this.clock.now() + this.delay() + this.delay(), opened);
  }

  /** A seeded delay of one chunk, one way. */
  private delay(): number {
    const { latencyMs, jitterMs } = this.link;
    if (jitterMs === 0) return latencyMs;
    return Math.max(0, latencyMs + jitterMs * (2 * this.link.random() - 1));
  }

  override _write(chunk: Buffer, _encoding: BufferEncoding, callback: WriteCallback): void {
    this.sendOut(chunk, callback);
  }

  override _writev(chunks: { chunk: Buffer }[], callback: WriteCallback): void {
    this.sendOut(chunks.length === 1 ? (chunks[0] as { chunk: Buffer }).chunk : Buffer.concat(chunks.map((entry) => entry.chunk)), callback);
  }

  private sendOut(chunk: Buffer, callback: WriteCallback): void {
    if (this.beforeOpen) {
      this.beforeOpen.push([chunk, callback]);
      return;
    }
    const now = this.clock.now();
    if (this.upMsPerByte === 0) {
      const at = Math.max(this.upLastArrival, now + this.delay());
      if (this.link.meter) this.link.meter.uplinkMs = at - now;
      this.upLastArrival = at;
      this.up.push(at, chunk);
      return callback();
    }
    for (let offset = 0; offset < chunk.length; offset += SLICE_BYTES) {
      const slice = chunk.subarray(offset, Math.min(chunk.length, offset + SLICE_BYTES));
      this.upFreeAt = Math.max(this.upFreeAt, now) + slice.length * this.upMsPerByte;
      const at = Math.max(this.upLastArrival, this.upFreeAt + this.delay());
      this.upLastArrival = at;
      this.up.push(at, slice);
    }
    if (this.link.meter) this.link.meter.uplinkMs = this.upLastArrival - now;
    // Called back once the bytes have left the device: the writer then waits on the link, not on memory.
    this.acks.push(this.upFreeAt, callback);
  }

  override _final(callback: WriteCallback): void {
    if (this.beforeOpen) {
      this.beforeOpen.push([Buffer.alloc(0), () => this._final(callback)]);
      return;
    }
    this.up.push(Math.max(this.upLastArrival, this.clock.now()), END);
    callback();
  }

  override _read(): void {
    if (this.inner.isPaused()) this.inner.resume();
  }

  override _destroy(error: Error | null, callback: (error?: Error | null) => void): void {
    this.up.clear();
    this.down.clear();
    // A write still on the capped uplink never left the device: its writer hears so, as from a socket.
    const closed = error ?? new Error('connection closed before the link sent it');
    this.acks.flush((written) => written(closed));
    for (const [, written] of this.beforeOpen?.splice(0) ?? []) written(closed);
    this.ready.clear();
    this.clock.unschedule(this);
    this.inner.destroy();
    callback(error);
  }

  private arrived(chunk: Buffer): void {
    const now = this.clock.now();
    if (this.downMsPerByte === 0) {
      const at = Math.max(this.downLastArrival, now + this.delay());
      if (this.link.meter) this.link.meter.downlinkMs = at - now;
      this.downLastArrival = at;
      return this.down.push(at, chunk);
    }
    for (let offset = 0; offset < chunk.length; offset += SLICE_BYTES) {
      const slice = chunk.subarray(offset, Math.min(chunk.length, offset + SLICE_BYTES));
      this.downFreeAt = Math.max(this.downFreeAt, now) + slice.length * this.downMsPerByte;
      const at = Math.max(this.downLastArrival, this.downFreeAt + this.delay());
      this.downLastArrival = at;
      this.down.push(at, slice);
    }
    if (this.link.meter) this.link.meter.downlinkMs = this.downLastArrival - now;
  }

  private sendInner(chunk: Chunk): void {
    if (this.inner.destroyed) return;
    if (chunk === END) this.inner.end();
    else this.inner.write(chunk);
  }

  private receive(chunk: Chunk): void {
    if (chunk === END) {
      this.push(null);
      return;
    }
    // The reader is behind: the inner socket waits (and the peer with it) until it reads again.
    if (!this.push(chunk)) this.inner.pause();
  }

  /** The next drop of this connection, if the link has any ahead. */
  private scheduleDrop(): void {
    const drops = this.link.drops;
    if (!drops || this.destroyed) return;
    const now = this.clock.now();
    if (drops.kind === 'rate') return this.clock.schedule(this, now - drops.meanIntervalMs * Math.log(1 - this.link.random()));
    while (this.dropIndex < drops.atMs.length && (drops.atMs[this.dropIndex] as number) <= now) this.dropIndex++;
    const at = drops.atMs[this.dropIndex];
    if (at !== undefined) this.clock.schedule(this, at);
  }

  /** The link clock's wake for this stream itself: a drop is due. */
  due(): void {
    this.destroy(new LinkDropError());
  }
}

/** Wraps `stream` in the link when there is one; the stream itself otherwise (no cost without conditions). */
export function shape(stream: Duplex, link: LinkConditions | undefined, readyEvent: 'connect' | 'secureConnect' | undefined): Duplex {
  return link === undefined ? stream : new ShapedStream(stream, link, readyEvent);
}
