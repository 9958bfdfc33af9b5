import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { createServer as createHttpServer } from 'node:http';
import type { IncomingMessage, Server, ServerResponse } from 'node:http';
import { createServer as createHttpsServer } from 'node:https';
import { createServer as createTcpServer } from 'node:net';
import type { AddressInfo, Server as TcpServer, Socket } from 'node:net';
import path from 'node:path';
import { HttpTransport } from '../../src/transport/http/http.ts';
import type { HttpAttempt, HttpClientKind } from '../../src/transport/http/http.ts';
import type { TlsOptions } from '../../src/transport/types.ts';
import type { AttemptResult } from '../../src/transport/types.ts';
import { ROOT } from '../helpers/cli.ts';
import { HTTP_CLIENTS } from '../helpers/http-clients.ts';
import { pollUntil } from '../helpers/poll.ts';

/**
 * The oracle: every case runs on undici and on fleetsim's own client against the same real
 * servers, and the two must come out identical (outcome, error label, status, body bytes, kept
 * body, connections opened), each also checked against what the server sent.
 */

const LARGE_BYTES = 50 * 1024 * 1024;
const tlsFile = (name: string): Buffer => readFileSync(path.join(ROOT, 'test/fixtures/tls', name));

interface Observed {
  readonly result: AttemptResult;
  readonly ms: number;
}

/** The routes both clients are sent to; each answers in one of the ways HTTP/1.1 allows. */
function handler(request: IncomingMessage, response: ServerResponse): void {
  const url = new URL(request.url ?? '/', 'http://x');
  request.resume();
  request.on('end', () => {
    switch (url.pathname) {
      case '/length':
        response.writeHead(200, { 'content-type': 'application/json', 'content-length': 11 }).end('{"ok":true}');
        return;
      case '/chunked': {
        // No length: node frames these writes as chunks.
        response.writeHead(200, { 'content-type': 'text/plain' });
        response.write('first,');
        setImmediate(() => {
          response.write('second,');
          setImmediate(() => response.end('third'));
        });
        return;
      }
      case '/echo': {
        response.writeHead(200, { 'content-type': 'text/plain' }).end(`${request.method} ${request.headers['content-length'] ?? '-'} ${String(request.headers['x-device'] ?? '-')}`);
        return;
      }
      case '/early-hints':
        response.writeEarlyHints({ link: '</style.css>; rel=preload; as=style' }, () => response.writeHead(200, { 'content-length': 5 }).end('final'));
        return;
      case '/continue':
        // 100 Continue that nobody asked for (fleetsim sends no `Expect`), then the answer.
        response.writeContinue();
        response.writeHead(200, { 'content-length': 5 }).end('final');
        return;
      case '/no-content':
        response.writeHead(204).end();
        return;
      case '/not-modified':
        response.writeHead(304, { etag: '"v1"' }).end();
        return;
      case '/close':
        response.writeHead(200, { connection: 'close', 'content-length': 6 }).end('closed');
        return;
      case '/missing':
        response.writeHead(404, { 'content-type': 'text/plain' }).end('no such thing');
        return;
      case '/delay':
        setTimeout(() => response.end(`waited ${url.searchParams.get('ms')}`), Number(url.searchParams.get('ms')));
        return;
      case '/stall-headers':
        // Answers long after any client's timeout; the socket is closed by the client first.
        setTimeout(() => response.end('late'), 5000).unref();
        return;
      case '/stall-body':
        response.writeHead(200, { 'content-length': 100 });
        response.write('only part of it');
        return;
      case '/large': {
        response.writeHead(200, { 'content-type': 'application/octet-stream', 'content-length': LARGE_BYTES });
        const piece = Buffer.alloc(1024 * 1024, 0x61);
        let sent = 0;
        const more = (): void => {
          while (sent < LARGE_BYTES) {
            sent += piece.length;
            if (!response.write(piece)) return void response.once('drain', more);
          }
          response.end();
        };
        more();
        return;
      }
      case '/large-chunked': {
        const piece = Buffer.alloc(256 * 1024, 0x62);
        response.writeHead(200, { 'content-type': 'application/octet-stream' });
        let left = 40;
        const more = (): void => {
          while (left > 0) {
            left--;
            if (!response.write(piece)) return void response.once('drain', more);
          }
          response.end();
        };
        more();
        return;
      }
      default:
        response.writeHead(404).end();
    }
  });
}

interface Target<S> {
  readonly server: S;
  readonly url: string;
  connections: number;
  readonly sockets: Set<Socket>;
}

async function listening<S extends Server | TcpServer>(server: S, scheme: string): Promise<Target<S>> {
  const target: Target<S> = { server, url: '', connections: 0, sockets: new Set() };
  server.on('connection', (socket: Socket) => {
    target.connections++;
    target.sockets.add(socket);
    socket.on('close', () => target.sockets.delete(socket));
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  return Object.assign(target, { url: `${scheme}://127.0.0.1:${(server.address() as AddressInfo).port}` });
}

/**
 * Raw answers no node:http server gives: a body that runs until the server closes, a body cut
 * short, garbage. The request's path picks one.
 */
function rawServer(): TcpServer {
  return createTcpServer((socket) => {
    socket.on('error', () => undefined);
    let head = '';
    socket.on('data', (data: Buffer) => {
      head += data.toString('latin1');
      if (!head.includes('\r\n\r\n')) return;
      const route = head.split(' ')[1];
      head = '';
      if (route === '/until-close') socket.end('HTTP/1.1 200 OK\r\ncontent-type: text/plain\r\n\r\nall of this is the body');
      else if (route === '/cut-short') {
        socket.write('HTTP/1.1 200 OK\r\ncontent-length: 1000\r\n\r\nnot nearly');
        setTimeout(() => socket.destroy(), 20);
      } else if (route === '/cut-chunked') {
        socket.write('HTTP/1.1 200 OK\r\ntransfer-encoding: chunked\r\n\r\n5\r\nhello\r\n');
        setTimeout(() => socket.destroy(), 20);
      } else if (route === '/split-head') {
        // Head and chunk framing in pieces across separate writes.
        const parts = ['HTT', 'P/1.1 200 OK\r\ntransfer-en', 'coding: chunked\r', '\n\r\n', '4\r', '\nabcd', '\r\n0\r\n', 'x-trailer: 1\r\n\r\n'];
        let at = 0;
        const next = (): void => {
          socket.write(parts[at++] ?? '');
          if (at < parts.length) setTimeout(next, 2);
        };
        next();
      } else socket.end('HTTP/1.1 200 OK\r\ncontent-length: 2\r\n\r\nok');
    });
  });
}

let http: Target<Server>;
let raw: Target<TcpServer>;
let https: Target<Server>;
/** Closes each keep-alive connection a moment after its response: a server whose idle timeout is short. */
let idleClosing: Target<Server>;

before(async () => {
  http = await listening(createHttpServer(handler), 'http');
  raw = await listening(rawServer(), 'http');
  https = await listening(createHttpsServer({ key: tlsFile('server.key'), cert: tlsFile('server.crt') }, handler), 'https');
  idleClosing = await listening(
    createHttpServer((request, response) => {
      request.resume();
      response.on('finish', () => setTimeout(() => request.socket.end(), 30));
      response.end('{"ok":true}');
    }),
    'http',
  );
});

after(async () => {
  for (const target of [http, https, idleClosing]) target.server.closeAllConnections();
  for (const socket of raw.sockets) socket.destroy();
  await Promise.all([http, raw, https, idleClosing].map((target) => new Promise((resolve) => target.server.close(resolve))));
});

const attempt = (overrides: Partial<HttpAttempt> = {}): HttpAttempt => ({
  deviceIndex: 0,
  method: 'GET',
  path: '/length',
  headers: {},
  body: undefined,
  timeoutMs: 2000,
  keepBody: true,
  ...overrides,
});

async function withTransport<T>(client: HttpClientKind, url: string, use: (transport: HttpTransport) => Promise<T>, tls?: TlsOptions, connectionPerDevice = false): Promise<T> {
  const transport = new HttpTransport(url, { connections: 4, connectionPerDevice, timeoutMs: 2000, client, tls });
  try {
    return await use(transport);
  } finally {
    await transport.destroy();
  }
}

async function timed(transport: HttpTransport, request: HttpAttempt): Promise<Observed> {
  const started = process.hrtime.bigint();
  const result = await transport.send(request);
  return { result, ms: Number(process.hrtime.bigint() - started) / 1e6 };
}

/** Runs `run` once per client against fresh transports and asserts both saw the same; returns undici's. */
async function oracle<T>(run: (client: HttpClientKind) => Promise<T>): Promise<T> {
  const seen = new Map<HttpClientKind, T>();
  for (const client of HTTP_CLIENTS) seen.set(client, await run(client));
  const [first, ...rest] = HTTP_CLIENTS.map((client) => seen.get(client) as T);
  for (const [i, other] of rest.entries()) assert.deepEqual(other, first, `${HTTP_CLIENTS[i + 1]} differs from ${HTTP_CLIENTS[0]}`);
  return first as T;
}

/** A request's outcome, compared whole: the kept body and the counted bytes included. */
const single = (url: string, request: Partial<HttpAttempt>, tls?: TlsOptions) => (client: HttpClientKind) =>
  withTransport(client, url, async (transport) => (await timed(transport, attempt(request))).result, tls);

describe('both HTTP clients on the same servers', () => {
  test('a content-length body', async () => {
    assert.deepEqual(await oracle(single(http.url, { path: '/length' })), { outcome: 'ok', error: undefined, bytesIn: 11, answered: true, body: '{"ok":true}' });
  });

  test('a chunked body, written in three pieces', async () => {
    assert.deepEqual(await oracle(single(http.url, { path: '/chunked' })), { outcome: 'ok', error: undefined, bytesIn: 18, answered: true, body: 'first,second,third' });
  });

  test('POST bodies and headers reach the server framed alike; a POST without a body says content-length 0', async () => {
    const body = '{"temperature":21.5,"unit":"°C"}';
    const posted = await oracle(single(http.url, { method: 'POST', path: '/echo', body, headers: { 'content-type': 'application/json', 'x-device': 'dev-7' } }));
    assert.equal(posted.body, `POST ${Buffer.byteLength(body)} dev-7`);
    assert.equal((await oracle(single(http.url, { method: 'POST', path: '/echo', headers: {} }))).body, 'POST 0 -');
    assert.equal((await oracle(single(http.url, { method: 'GET', path: '/echo', headers: {} }))).body, 'GET - -');
  });

  test('103 Early Hints before the answer are skipped', async () => {
    assert.deepEqual(await oracle(single(http.url, { path: '/early-hints' })), { outcome: 'ok', error: undefined, bytesIn: 5, answered: true, body: 'final' });
  });

  test('the one known difference: an unsolicited 100 Continue fails on undici, and is skipped (RFC 9110 15.2) on the native client', async () => {
    const undici = await single(http.url, { path: '/continue' })('undici');
    const native = await single(http.url, { path: '/continue' })('native');
    assert.deepEqual([undici.outcome, undici.error, undici.answered], ['failure', 'connection closed by the server', false]);
    assert.deepEqual(native, { outcome: 'ok', error: undefined, bytesIn: 5, answered: true, body: 'final' });
  });

  test('HEAD, 204 and 304 carry no body whatever their headers say', async () => {
    assert.deepEqual(await oracle(single(http.url, { method: 'HEAD', path: '/length' })), { outcome: 'ok', error: undefined, bytesIn: 0, answered: true, body: '' });
    assert.deepEqual(await oracle(single(http.url, { path: '/no-content' })), { outcome: 'ok', error: undefined, bytesIn: 0, answered: true, body: '' });
    assert.deepEqual(await oracle(single(http.url, { path: '/not-modified' })), { outcome: 'failure', error: 'HTTP 304', bytesIn: 0, answered: true, body: '' });
    assert.deepEqual(await oracle(single(http.url, { path: '/not-modified', expectStatus: new Set([304]) })), { outcome: 'ok', error: undefined, bytesIn: 0, answered: true, body: '' });
  });

  test('the requests after HEAD, 204 and 304 on a kept-alive connection still parse', async () => {
    // How many connections each opens differs (undici reuses one only a loop turn after its answer,
    // and both close after a HEAD); what each request got may not.
    const outcomes = await oracle((client) =>
      withTransport(client, http.url, async (transport) => {
        const results: AttemptResult[] = [];
        for (const request of [{ path: '/no-content' }, { path: '/not-modified' }, { path: '/chunked' }, { method: 'HEAD' as const, path: '/length' }, { path: '/length' }]) {
          results.push((await timed(transport, attempt(request))).result);
        }
        return results;
      }),
    );
    assert.deepEqual(
      outcomes.map((result) => [result.outcome, result.bytesIn, result.body]),
      [
        ['ok', 0, ''],
        ['failure', 0, ''],
        ['ok', 18, 'first,second,third'],
        ['ok', 0, ''],
        ['ok', 11, '{"ok":true}'],
      ],
    );
  });

  test("a 404 is the server's answer: a failure with its status and its bytes counted", async () => {
    assert.deepEqual(await oracle(single(http.url, { path: '/missing' })), { outcome: 'failure', error: 'HTTP 404', bytesIn: 13, answered: true, body: '' });
  });

  test('Connection: close ends the connection after its answer; the next request opens another', async () => {
    const seen = await oracle((client) =>
      withTransport(client, http.url, async (transport) => {
        const before = http.connections;
        const first = (await timed(transport, attempt({ path: '/close' }))).result;
        const second = (await timed(transport, attempt({ path: '/close' }))).result;
        return { first, second, connections: http.connections - before };
      }),
    );
    assert.deepEqual(seen.first, { outcome: 'ok', error: undefined, bytesIn: 6, answered: true, body: 'closed' });
    assert.equal(seen.connections, 2);
  });

  test('a keep-alive connection the server closed while idle is not reused', async () => {
    const seen = await oracle((client) =>
      withTransport(client, idleClosing.url, async (transport) => {
        const before = idleClosing.connections;
        const first = (await timed(transport, attempt({ path: '/' }))).result;
        // The server closes after its answer; once it has seen the close, so has the client.
        await pollUntil('the server to close the idle connection', () => idleClosing.sockets.size === 0);
        const second = (await timed(transport, attempt({ path: '/' }))).result;
        return { first, second, connections: idleClosing.connections - before };
      }),
    );
    assert.deepEqual(seen.second, { outcome: 'ok', error: undefined, bytesIn: 11, answered: true, body: '{"ok":true}' });
    assert.equal(seen.connections, 2);
  });

  test('a body that runs until the server closes is complete at the close', async () => {
    assert.deepEqual(await oracle(single(raw.url, { path: '/until-close' })), { outcome: 'ok', error: undefined, bytesIn: 23, answered: true, body: 'all of this is the body' });
  });

  test('a head and chunked framing split across many reads, with a trailer', async () => {
    assert.deepEqual(await oracle(single(raw.url, { path: '/split-head' })), { outcome: 'ok', error: undefined, bytesIn: 4, answered: true, body: 'abcd' });
  });

  test('a body cut short by the server is a failure, content-length or chunked', async () => {
    const length = await oracle(single(raw.url, { path: '/cut-short' }));
    assert.equal(length.outcome, 'failure');
    assert.equal(length.answered, false);
    const chunked = await oracle(single(raw.url, { path: '/cut-chunked' }));
    assert.equal(chunked.outcome, 'failure');
  });

  test('timeouts: no headers in time, and a body that stalls', async () => {
    const headers = await oracle(async (client) => {
      const { result, ms } = await withTransport(client, http.url, (transport) => timed(transport, attempt({ path: '/stall-headers', timeoutMs: 200 })));
      assert.ok(ms >= 190 && ms < 1500, `${client} timed out after ${ms} ms`);
      return result;
    });
    assert.deepEqual(headers, { outcome: 'timeout', error: 'timeout: no response headers in time', bytesIn: 0, answered: false, body: '' });
    const body = await oracle(async (client) => (await withTransport(client, http.url, (transport) => timed(transport, attempt({ path: '/stall-body', timeoutMs: 200 })))).result);
    assert.deepEqual([body.outcome, body.error, body.answered], ['timeout', 'timeout: response body stalled', false]);
  });

  test('latency follows the server: faster answers finish first, on either client', async () => {
    await oracle((client) =>
      withTransport(client, http.url, async (transport) => {
        const order: string[] = [];
        const send = async (ms: number): Promise<Observed> => {
          const observed = await timed(transport, attempt({ deviceIndex: ms, path: `/delay?ms=${ms}` }));
          order.push(`${ms}`);
          return observed;
        };
        const [fast, middle, slow] = await Promise.all([send(0), send(60), send(150)]);
        assert.ok(fast.ms < middle.ms && middle.ms < slow.ms, `${client}: ${fast.ms} < ${middle.ms} < ${slow.ms}`);
        assert.ok(slow.ms >= 150, `${client}: the 150 ms answer took ${slow.ms} ms`);
        return { order, bodies: [fast, middle, slow].map((observed) => observed.result.body) };
      }),
    );
  });

  test('a 50 MB body streams through and is counted, not kept; neighbours on other connections still answer', async () => {
    const seen = await oracle((client) =>
      withTransport(client, http.url, async (transport) => {
        const large = timed(transport, attempt({ deviceIndex: 0, path: '/large', keepBody: false, timeoutMs: 20_000 }));
        const chunked = timed(transport, attempt({ deviceIndex: 1, path: '/large-chunked', keepBody: false, timeoutMs: 20_000 }));
        const small = (await timed(transport, attempt({ deviceIndex: 2, path: '/length' }))).result;
        return { large: (await large).result, chunked: (await chunked).result, small };
      }),
    );
    assert.deepEqual(seen.large, { outcome: 'ok', error: undefined, bytesIn: LARGE_BYTES, answered: true });
    assert.deepEqual(seen.chunked, { outcome: 'ok', error: undefined, bytesIn: 40 * 256 * 1024, answered: true });
    assert.equal(seen.small.outcome, 'ok');
  });

  test('TLS: verified against the CA, refused without it (same label), accepted when insecure', async () => {
    const ca = tlsFile('ca.crt');
    assert.deepEqual(await oracle(single(https.url, { path: '/chunked' }, { ca, rejectUnauthorized: true })), {
      outcome: 'ok',
      error: undefined,
      bytesIn: 18,
      answered: true,
      body: 'first,second,third',
    });
    const refused = await oracle(single(https.url, { path: '/length' }, { rejectUnauthorized: true }));
    assert.deepEqual([refused.outcome, refused.answered], ['failure', false]);
    assert.match(refused.error ?? '', /UNABLE_TO_VERIFY_LEAF_SIGNATURE|SELF_SIGNED_CERT_IN_CHAIN|unable to verify/);
    assert.equal((await oracle(single(https.url, { path: '/length' }, { rejectUnauthorized: false }))).outcome, 'ok');
  });

  test('connection failures: refused, and plain HTTP where TLS was expected', async () => {
    const closed = createTcpServer();
    await new Promise<void>((resolve) => closed.listen(0, '127.0.0.1', resolve));
    const port = (closed.address() as AddressInfo).port;
    await new Promise((resolve) => closed.close(resolve));
    const refused = await oracle(single(`http://127.0.0.1:${port}`, {}));
    assert.match(refused.error ?? '', /^ECONNREFUSED/);
    const plain = await oracle(single(`https://127.0.0.1:${new URL(http.url).port}`, {}, { rejectUnauthorized: false }));
    assert.deepEqual([plain.outcome, plain.error], ['failure', 'TLS: the server answered in plain HTTP']);
  });

  test('one connection per device: many requests in a row share it; a closed transport refuses later ones', async () => {
    const seen = await oracle(async (client) => {
      const transport = new HttpTransport(http.url, { connections: 4, connectionPerDevice: true, timeoutMs: 2000, client });
      const before = http.connections;
      const results: AttemptResult[] = [];
      for (let i = 0; i < 20; i++) results.push(await transport.send(attempt({ deviceIndex: i % 2, path: i % 3 === 0 ? '/chunked' : '/length' })));
      const connections = http.connections - before;
      await transport.close();
      const late = await transport.send(attempt());
      return { results, connections, late };
    });
    assert.equal(seen.connections, 2);
    assert.ok(seen.results.every((result) => result.outcome === 'ok'));
    assert.deepEqual([seen.late.outcome, seen.late.answered], ['failure', false]);
  });
});
