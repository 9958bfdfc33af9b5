import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { subscribe, unsubscribe } from 'node:diagnostics_channel';
import { once } from 'node:events';
import { createServer } from 'node:http';
import type { Server } from 'node:http';
import type { AddressInfo, Socket } from 'node:net';
import { HttpTransport } from '../../src/transport/http/http.ts';
import { PreopenedConnector } from '../../src/transport/http/http-preconnect.ts';
import { pollUntil } from '../helpers/poll.ts';
import { HTTP_CLIENTS } from '../helpers/http-clients.ts';

/** An HTTP server that counts the connections it accepted, those still open, and the requests. */
class CountingServer {
  connections = 0;
  requests = 0;
  readonly open = new Set<Socket>();
  readonly server: Server = createServer((request, response) => {
    this.requests++;
    request.resume();
    request.on('end', () => response.end('{"ok":true}'));
  });
  url = '';

  async listen(): Promise<void> {
    this.server.on('connection', (socket: Socket) => {
      this.connections++;
      this.open.add(socket);
      socket.on('close', () => this.open.delete(socket));
    });
    this.server.listen(0, '127.0.0.1');
    await once(this.server, 'listening');
    this.url = `http://127.0.0.1:${(this.server.address() as AddressInfo).port}`;
  }

  async close(): Promise<void> {
    this.server.closeAllConnections();
    this.server.close();
    await once(this.server, 'close');
  }
}

/** What `open` resolves with, and the client sockets it created (undici connects with node:net, which announces each on this channel). */
async function withClientSockets<T>(open: () => Promise<T>): Promise<{ value: T; sockets: Socket[] }> {
  const sockets: Socket[] = [];
  const onSocket = (message: unknown): void => {
    sockets.push((message as { socket: Socket }).socket);
  };
  subscribe('net.client.socket', onSocket);
  try {
    return { value: await open(), sockets };
  } finally {
    unsubscribe('net.client.socket', onSocket);
  }
}

const post = (deviceIndex: number) => ({ deviceIndex, method: 'POST' as const, path: '/data', headers: { 'content-type': 'application/json' }, body: '{"t":1}', timeoutMs: 2000 });

for (const client of HTTP_CLIENTS)
  describe(`the shared pool opens its first connections ahead (http.client: ${client})`, () => {
    let target: CountingServer;
    before(async () => {
      target = new CountingServer();
      await target.listen();
    });
    after(() => target.close());

    test('opened connections carry the first requests: no request ahead, no new connection after', async () => {
      const connectionsBefore = target.connections;
      const requestsBefore = target.requests;
      const transport = new HttpTransport(target.url, { connections: 4, connectionPerDevice: false, timeoutMs: 2000, client });
      try {
        assert.equal(await transport.preconnect(10, 2000), 4, 'at most the pool size');
        await pollUntil('the server to accept 4 connections', () => target.connections - connectionsBefore === 4);
        assert.equal(target.requests, requestsBefore, 'opening sends no request');
        transport.runStarted();
        const results = await Promise.all([0, 1, 2, 3].map((device) => transport.send(post(device))));
        for (const result of results) assert.equal(result.outcome, 'ok');
        assert.equal(target.requests - requestsBefore, 4);
        assert.equal(target.connections - connectionsBefore, 4, 'the pool used the connections opened ahead');
      } finally {
        await transport.destroy();
      }
    });

    test('a connection the server closed while it waited is not used: the request opens its own and succeeds', async () => {
      const transport = new HttpTransport(target.url, { connections: 2, connectionPerDevice: false, timeoutMs: 2000, client });
      try {
        const before = new Set(target.open);
        const { value: count, sockets: clientSockets } = await withClientSockets(() => transport.preconnect(2, 2000));
        assert.equal(count, 2);
        assert.equal(clientSockets.length, 2, 'the client opened 2 sockets ahead');
        await pollUntil('both connections at the server', () => [...target.open].filter((socket) => !before.has(socket)).length === 2);
        const opened = [...target.open].filter((socket) => !before.has(socket));
        for (const socket of opened) socket.destroy();
        // The client has read the FIN and dropped its spare sockets, as it has when the pool takes a
        // connection later in a run; a request before that would race the close.
        await pollUntil('the client to see both closes', () => clientSockets.every((client) => client.destroyed));
        const results = await Promise.all([0, 1].map((device) => transport.send(post(device))));
        assert.deepEqual(
          results.map((result) => result.outcome),
          ['ok', 'ok'],
        );
      } finally {
        await transport.destroy();
      }
    });

    test('connections still unused a while after the start are closed', async () => {
      const connector = new PreopenedConnector({ timeout: 2000 }, new URL(target.url), 50);
      const before = new Set(target.open);
      const opened = (): Socket[] => [...target.open].filter((socket) => !before.has(socket));
      assert.equal(await connector.open(3, 2000), 3);
      await pollUntil('3 connections open at the server', () => opened().length === 3);
      const ahead = opened();
      connector.started();
      await pollUntil('the unused connections to close', () => ahead.every((socket) => !target.open.has(socket)));
    });

    test('a target that refuses connections only leaves none opened ahead', async () => {
      const closed = new CountingServer();
      await closed.listen();
      const url = closed.url;
      await closed.close();
      const transport = new HttpTransport(url, { connections: 3, connectionPerDevice: false, timeoutMs: 2000, client });
      try {
        assert.equal(await transport.preconnect(3, 2000), 0);
      } finally {
        await transport.destroy();
      }
    });
  });
