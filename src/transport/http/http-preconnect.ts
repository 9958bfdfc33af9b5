import type { Socket } from 'node:net';
import { buildConnector } from 'undici';

/** Sockets opened before the run that no pool connection took by then are closed this long after it starts. */
export const SPARE_LIFETIME_MS = 5000;

/**
 * The shared pool's connector, with TCP (and TLS) connections opened ahead: undici's Pool opens a
 * connection only when a request finds every open one busy, so a fleet that starts at full rate
 * paid for up to `http.connections` handshakes inside its first second. `open` connects them
 * before the clock starts, without a request (the target sees connections, never a request that
 * fleetsim does not count); the pool takes one as it needs a new connection. One that the server
 * closes while it waits is dropped, and those still unused a few seconds into the run are closed.
 */
export class PreopenedConnector {
  private readonly spare: Socket[] = [];
  /** Each spare socket's own listeners, removed when the pool takes it (undici's stay). */
  private readonly drops = new WeakMap<Socket, () => void>();
  private expiry: NodeJS.Timeout | undefined;
  /** Closed (the run ended, maybe before it started): a connection that opens late is not kept. */
  private closed = false;
  private readonly base: buildConnector.connector;
  readonly connect: buildConnector.connector = (options, callback) => {
    for (let socket = this.spare.pop(); socket; socket = this.spare.pop()) {
      if (socket.destroyed || socket.readyState !== 'open') continue;
      const drop = this.drops.get(socket);
      if (drop) socket.off('end', drop).off('close', drop).off('error', drop);
      // Never synchronously: undici is still inside its resume step when it asks, and a connection
      // handed over within it would sit unused until something else woke the client.
      queueMicrotask(() => callback(null, socket));
      return;
    }
    this.base(options, callback);
  };

  constructor(
    options: buildConnector.BuildOptions,
    private readonly origin: URL,
    private readonly spareLifetimeMs = SPARE_LIFETIME_MS,
    /** The source address its pool connects from (`--local-ips`); the system's choice when null. */
    private readonly localAddress: string | null = null,
  ) {
    this.base = buildConnector(options);
  }

  /** Opens up to `count` connections; resolves when all are open or failed, or after `withinMs` (late ones still join). */
  async open(count: number, withinMs: number): Promise<number> {
    const { host, protocol, port } = this.origin;
    // undici connects to an IPv6 literal without its brackets.
    const hostname = this.origin.hostname.startsWith('[') ? this.origin.hostname.slice(1, -1) : this.origin.hostname;
    const opened = Array.from(
      { length: count },
      () =>
        new Promise<boolean>((resolve) => {
          this.base({ host, hostname, protocol, port, localAddress: this.localAddress }, (error, socket) => {
            if (error || !socket) return resolve(false);
            this.keep(socket);
            resolve(true);
          });
        }),
    );
    let timer: NodeJS.Timeout | undefined;
    const late = new Promise<boolean[]>((resolve) => (timer = setTimeout(() => resolve([]), withinMs)));
    const settled = await Promise.race([Promise.all(opened), late]);
    clearTimeout(timer);
    return settled.filter(Boolean).length;
  }

  /** The run has started: what is still spare a few seconds on was not needed. */
  started(): void {
    this.expiry = setTimeout(() => this.close(), this.spareLifetimeMs).unref();
  }

  close(): void {
    this.closed = true;
    clearTimeout(this.expiry);
    for (const socket of this.spare.splice(0)) socket.destroy();
  }

  private keep(socket: Socket): void {
    if (this.closed) return void socket.destroy();
    const drop = (): void => {
      const at = this.spare.indexOf(socket);
      if (at >= 0) this.spare.splice(at, 1);
      socket.destroy();
    };
    this.drops.set(socket, drop);
    socket.on('end', drop).on('close', drop).on('error', drop);
    this.spare.push(socket);
  }
}
