import type { IncomingMessage, ServerResponse } from 'node:http';

/** A page that stops reading (a stalled tab) is dropped once this much is queued for it. */
const MAX_QUEUED_BYTES = 4 * 1024 * 1024;
/** A comment line this often keeps idle connections open through proxies. */
const HEARTBEAT_MS = 15_000;

/**
 * The pages following the run over Server-Sent Events. Each message is serialised once for all of
 * them; a closed or stalled page is dropped and never holds up the run.
 */
export class SseClients {
  private readonly open = new Set<ServerResponse>();
  private heartbeat: NodeJS.Timeout | undefined;

  get size(): number {
    return this.open.size;
  }

  add(request: IncomingMessage, response: ServerResponse, event: string, first: unknown): void {
    response.writeHead(200, {
      'content-type': 'text/event-stream; charset=utf-8',
      'cache-control': 'no-store',
      connection: 'keep-alive',
      'x-accel-buffering': 'no',
    });
    response.socket?.setNoDelay(true);
    // A reconnecting EventSource waits this long (ms) before trying again.
    response.write('retry: 1000\n\n');
    response.write(frame(event, JSON.stringify(first)));
    this.open.add(response);
    request.on('close', () => this.open.delete(response));
  }

  send(event: string, data: unknown): void {
    if (this.open.size === 0) return;
    const text = frame(event, JSON.stringify(data));
    for (const response of this.open) this.write(response, text);
  }

  startHeartbeat(): void {
    this.heartbeat = setInterval(() => {
      for (const response of this.open) this.write(response, ': keep-alive\n\n');
    }, HEARTBEAT_MS);
    this.heartbeat.unref();
  }

  closeAll(): void {
    clearInterval(this.heartbeat);
    for (const response of this.open) response.end();
    this.open.clear();
  }

  private write(response: ServerResponse, text: string): void {
    if (response.writableLength > MAX_QUEUED_BYTES) {
      this.open.delete(response);
      response.destroy();
      return;
    }
    response.write(text);
  }
}

/** One SSE message; JSON has no raw newlines, so the data is one `data:` line. */
function frame(event: string, json: string): string {
  return `event: ${event}\ndata: ${json}\n\n`;
}
