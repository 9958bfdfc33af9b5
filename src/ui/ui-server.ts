import { once } from 'node:events';
import { createServer } from 'node:http';
import type { IncomingMessage, Server, ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { isUserError, UsageError } from '../errors.ts';
import { refusal } from './access.ts';
import type { UiAccess } from './access.ts';
import { ConflictError } from './ui-backend.ts';
import type { UiBackend } from './ui-backend.ts';
import { SseClients } from './sse-clients.ts';

export interface UiEndpoint {
  readonly host: string;
  readonly port: number;
}

/** A control request's body is a handful of fields: anything larger is not one. */
const MAX_BODY_BYTES = 64 * 1024;

type Json = object;

/**
 * The UI's HTTP server (node:http): the page, its live feed as Server-Sent Events, the JSON control
 * API and the downloads. Every request passes the access check first (token, Host, and for
 * state-changing requests the JSON content type and same origin).
 */
export class UiServer {
  private readonly server: Server;
  private readonly clients = new SseClients();
  private address: AddressInfo | undefined;
  private readonly forward = (event: string, data: unknown): void => this.clients.send(event, data);

  constructor(
    private readonly backend: UiBackend,
    private readonly access: UiAccess,
    private readonly page: () => string,
  ) {
    this.server = createServer((request, response) => {
      this.serve(request, response).catch((error: unknown) => fail(response, 500, error instanceof Error ? error.message : String(error)));
    });
    backend.listening = () => this.clients.size > 0;
    backend.on('message', this.forward);
  }

  /** The address as a browser on this machine would open it (loopback for a server on every address). */
  get url(): string {
    const address = this.address;
    if (!address) return '';
    const host = this.everyAddress ? '127.0.0.1' : address.family === 'IPv6' ? `[${address.address}]` : address.address;
    return `http://${host}:${address.port}/`;
  }

  /** Listening on 0.0.0.0 or ::, which browsers do not open as an address. */
  get everyAddress(): boolean {
    return this.address?.address === '0.0.0.0' || this.address?.address === '::';
  }

  async listen(endpoint: UiEndpoint): Promise<void> {
    this.server.listen({ port: endpoint.port, host: endpoint.host });
    try {
      await once(this.server, 'listening');
    } catch (error) {
      const code = (error as NodeJS.ErrnoException).code;
      const where = `${endpoint.host}:${endpoint.port}`;
      if (code === 'EADDRINUSE') throw new UsageError(`--ui-port: ${where} is already in use; pick another port (0 picks a free one)`);
      if (code === 'EACCES') throw new UsageError(`--ui-port: no permission to listen on ${where}; use a port above 1023`);
      if (code === 'EADDRNOTAVAIL' || code === 'ENOTFOUND' || code === 'EAI_AGAIN') throw new UsageError(`--ui-host: cannot listen on ${endpoint.host} (${code})`);
      throw error;
    }
    this.address = this.server.address() as AddressInfo;
    this.clients.startHeartbeat();
  }

  async close(): Promise<void> {
    this.backend.off('message', this.forward);
    this.clients.closeAll();
    if (!this.server.listening) return;
    const closed = once(this.server, 'close');
    this.server.close();
    this.server.closeAllConnections();
    await closed;
  }

  private async serve(request: IncomingMessage, response: ServerResponse): Promise<void> {
    const url = new URL(request.url ?? '/', 'http://ui.invalid');
    const refused = refusal(request, url, this.access);
    if (refused) return fail(response, refused.status, refused.message);
    const route = `${request.method ?? 'GET'} ${url.pathname}`;
    switch (route) {
      case 'GET /':
      case 'GET /index.html':
        response.writeHead(200, {
          'content-type': 'text/html; charset=utf-8',
          'cache-control': 'no-store',
          // The page and its script come from here; nothing is loaded from anywhere else.
          'content-security-policy': "default-src 'none'; script-src 'unsafe-inline'; style-src 'unsafe-inline'; connect-src 'self'; img-src 'self' data:; form-action 'none'; frame-ancestors 'none'",
          'x-content-type-options': 'nosniff',
        });
        return void response.end(this.page());
      case 'GET /api/events':
        return this.clients.add(request, response, 'state', this.backend.state());
      case 'GET /api/state':
        return sendJson(response, 200, this.backend.state());
      case 'POST /api/start':
        return this.control(request, response, (body) => this.backend.start(body), 201);
      case 'POST /api/stop':
        return this.control(request, response, () => Promise.resolve(this.backend.stop()));
      case 'POST /api/devices':
        return this.control(request, response, (body) => Promise.resolve(this.backend.setDevices(body)));
      case 'POST /api/reset':
        return this.control(request, response, () => Promise.resolve(this.backend.resetStats()));
      default:
        break;
    }
    if (request.method === 'GET' && url.pathname.startsWith('/api/download/')) return this.download(url.pathname.slice('/api/download/'.length), response);
    const known = ['/', '/api/events', '/api/state', '/api/start', '/api/stop', '/api/devices', '/api/reset'].includes(url.pathname);
    fail(response, known ? 405 : 404, known ? `${request.method ?? ''} is not served at ${url.pathname}` : `nothing at ${url.pathname}`);
  }

  private async control(request: IncomingMessage, response: ServerResponse, act: (body: unknown) => Promise<Json>, okStatus = 200): Promise<void> {
    let body: unknown;
    try {
      body = await readJson(request);
    } catch (error) {
      return fail(response, 400, error instanceof Error ? error.message : String(error));
    }
    try {
      sendJson(response, okStatus, await act(body));
    } catch (error) {
      if (error instanceof ConflictError) return fail(response, 409, error.message);
      if (isUserError(error)) return fail(response, 400, (error as Error).message);
      throw error;
    }
  }

  private async download(name: string, response: ServerResponse): Promise<void> {
    const file = await this.backend.download(decodeURIComponent(name));
    if (!file) return fail(response, 404, `no ${name} to download: no run yet, or not asked for`);
    response.writeHead(200, {
      'content-type': file.contentType,
      'content-disposition': `attachment; filename="${file.filename}"`,
      'cache-control': 'no-store',
      'x-content-type-options': 'nosniff',
    });
    if (typeof file.body === 'string') return void response.end(file.body);
    file
      .body()
      .on('error', () => response.destroy())
      .pipe(response);
  }
}

function sendJson(response: ServerResponse, status: number, value: unknown): void {
  response.writeHead(status, { 'content-type': 'application/json; charset=utf-8', 'cache-control': 'no-store' });
  response.end(`${JSON.stringify(value)}\n`);
}

function fail(response: ServerResponse, status: number, message: string): void {
  if (response.headersSent) return void response.destroy();
  sendJson(response, status, { error: message });
}

async function readJson(request: IncomingMessage): Promise<unknown> {
  let size = 0;
  const chunks: Buffer[] = [];
  for await (const chunk of request as AsyncIterable<Buffer>) {
    size += chunk.length;
    if (size > MAX_BODY_BYTES) throw new Error(`the body is larger than ${MAX_BODY_BYTES} bytes`);
    chunks.push(chunk);
  }
  const text = Buffer.concat(chunks).toString('utf8').trim();
  if (text === '') return {};
  try {
    return JSON.parse(text) as unknown;
  } catch {
    throw new Error('the body is not JSON');
  }
}
