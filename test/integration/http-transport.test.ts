import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { createServer } from 'node:net';
import type { AddressInfo, Server, Socket } from 'node:net';
import { createServer as createHttpServer } from 'node:http';
import { HttpFixture } from '../../broker-fixture/index.ts';
import { HttpTransport } from '../../src/transport/http/http.ts';
import type { HttpAttempt } from '../../src/transport/http/http.ts';
import { HttpExchange } from '../../src/transport/http/http-exchange.ts';
import type { AttemptResult } from '../../src/transport/types.ts';
import { HTTP_CLIENTS } from '../helpers/http-clients.ts';

/** A device's view of an exchange: each result as it arrives, and whether it came inside `dispatch`. */
class RecordingSink {
  readonly results: { result: AttemptResult; duringDispatch: boolean }[] = [];
  dispatching = false;
  private waiter: (() => void) | undefined;
  httpEnded(result: AttemptResult): void {
    // Copied: the exchange reuses its result object for the next request.
    this.results.push({ result: { ...result }, duringDispatch: this.dispatching });
    this.waiter?.();
  }
  next(count: number): Promise<void> {
    if (this.results.length >= count) return Promise.resolve();
    return new Promise((resolve) => (this.waiter = () => this.results.length >= count && resolve()));
  }
}

function send(transport: HttpTransport, exchange: HttpExchange, sink: RecordingSink, path: string, body: string | undefined, keepBody = false): void {
  exchange.prepare(body === undefined ? 'GET' : 'POST', path, { 'content-type': 'application/json' }, body, 2000, undefined, keepBody);
  sink.dispatching = true;
  transport.dispatch(exchange);
  sink.dispatching = false;
}

const attempt = (overrides: Partial<HttpAttempt> = {}): HttpAttempt => ({
  deviceIndex: 0,
  method: 'POST',
  path: '/data',
  headers: { 'content-type': 'application/json' },
  body: '{"temperature":21.5,"humidity":40}',
  timeoutMs: 2000,
  ...overrides,
});

/** A TCP server that accepts connections and never answers: the shape of a hung backend. */
async function silentServer(): Promise<{ url: string; close: () => Promise<void> }> {
  const sockets = new Set<Socket>();
  const server: Server = createServer((socket) => {
    sockets.add(socket);
    socket.on('error', () => undefined);
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const address = server.address();
  if (address === null || typeof address === 'string') throw new Error('no address');
  return {
    url: `http://127.0.0.1:${address.port}`,
    close: () =>
      new Promise((resolve) => {
        for (const socket of sockets) socket.destroy();
        server.close(() => resolve());
      }),
  };
}

for (const client of HTTP_CLIENTS)
  describe(`HTTP transport over real sockets (http.client: ${client})`, () => {
    let fixture: HttpFixture;
    let url: string;
    before(async () => {
      fixture = new HttpFixture();
      url = await fixture.listen(0);
    });
    after(async () => {
      await fixture.close();
    });

    for (const connectionPerDevice of [false, true]) {
      test(`a valid request succeeds and counts response bytes (connectionPerDevice: ${connectionPerDevice})`, async () => {
        const transport = new HttpTransport(url, { connections: 4, connectionPerDevice, timeoutMs: 5000, client });
        try {
          const results = await Promise.all([0, 1, 2, 3].map((deviceIndex) => transport.send(attempt({ deviceIndex }))));
          for (const result of results) assert.deepEqual(result, { outcome: 'ok', error: undefined, bytesIn: '{"ok":true}'.length, answered: true });
        } finally {
          await transport.close();
        }
      });
    }

    test('one exchange serves a device request after request: one result each, never inside dispatch, nothing carried over', async () => {
      const transport = new HttpTransport(url, { connections: 1, connectionPerDevice: false, timeoutMs: 5000, client });
      const sink = new RecordingSink();
      const exchange = new HttpExchange(0, sink);
      try {
        send(transport, exchange, sink, '/data', '{"temperature":21.5,"humidity":40}');
        await sink.next(1);
        send(transport, exchange, sink, '/data', '{"temperature":"hot"}');
        await sink.next(2);
        send(transport, exchange, sink, '/ota?id=00aabbccddee', undefined, true);
        await sink.next(3);
        assert.deepEqual(
          sink.results.map(({ result }) => [result.outcome, result.error, result.body, result.answered]),
          [
            ['ok', undefined, undefined, true],
            // A 400 that arrived is a failure the target answered: its time is latency.
            ['failure', 'HTTP 400', undefined, true],
            ['ok', undefined, '{"update":false}', true],
          ],
        );
        assert.equal(sink.results[2]?.result.bytesIn, '{"update":false}'.length);
        assert.ok(sink.results.every(({ duringDispatch }) => !duringDispatch));
      } finally {
        await transport.close();
      }
    });

    test('a dispatch the pool refuses at once (closed transport) still reports later, as a failure', async () => {
      const transport = new HttpTransport(url, { connections: 1, connectionPerDevice: false, timeoutMs: 5000, client });
      await transport.close();
      const sink = new RecordingSink();
      send(transport, new HttpExchange(0, sink), sink, '/data', '{}');
      assert.equal(sink.results.length, 0, 'the result must not arrive inside dispatch');
      await sink.next(1);
      assert.deepEqual([sink.results[0]?.result.outcome, sink.results[0]?.result.error, sink.results[0]?.result.answered], ['failure', 'request aborted at stop', false]);
    });

    test('a non-2xx answer is a failure labelled with its status', async () => {
      const transport = new HttpTransport(url, { connections: 1, connectionPerDevice: false, timeoutMs: 5000, client });
      try {
        const result = await transport.send(attempt({ body: '{"temperature":"hot"}' }));
        assert.equal(result.outcome, 'failure');
        assert.equal(result.error, 'HTTP 400');
        assert.ok(result.bytesIn > 0);
      } finally {
        await transport.close();
      }
    });

    test('expectStatus decides success: an expected 404 is ok, an unexpected 200 fails; kept bodies come back', async () => {
      const transport = new HttpTransport(url, { connections: 1, connectionPerDevice: false, timeoutMs: 5000, client });
      try {
        const missing = await transport.send(attempt({ method: 'GET', path: '/nowhere', body: undefined, expectStatus: new Set([404]), keepBody: true }));
        assert.equal(missing.outcome, 'ok');
        assert.match(missing.body ?? '', /no route GET \/nowhere/);
        const found = await transport.send(attempt({ expectStatus: new Set([404]) }));
        assert.deepEqual([found.outcome, found.error], ['failure', 'HTTP 200']);
      } finally {
        await transport.close();
      }
    });

    test('injected server errors come back as HTTP 503 failures', async () => {
      const failing = new HttpFixture({ errorRate: 1 });
      const failingUrl = await failing.listen(0);
      const transport = new HttpTransport(failingUrl, { connections: 1, connectionPerDevice: false, timeoutMs: 5000, client });
      try {
        const result = await transport.send(attempt());
        assert.equal(result.error, 'HTTP 503');
        assert.equal(failing.counts['POST /data']?.injectedErrors, 1);
      } finally {
        await transport.close();
        await failing.close();
      }
    });

    test('a server that never answers is a timeout, not a success', async () => {
      const silent = await silentServer();
      const transport = new HttpTransport(silent.url, { connections: 1, connectionPerDevice: false, timeoutMs: 5000, client });
      try {
        const started = process.hrtime.bigint();
        const result = await transport.send(attempt({ timeoutMs: 300 }));
        const elapsedMs = Number(process.hrtime.bigint() - started) / 1e6;
        assert.equal(result.outcome, 'timeout');
        assert.match(result.error ?? '', /^timeout/);
        assert.ok(elapsedMs >= 250, `timed out after ${elapsedMs} ms`);
      } finally {
        await transport.destroy();
        await silent.close();
      }
    });

    test('a closed port is a failure labelled ECONNREFUSED', async () => {
      const silent = await silentServer();
      const closedUrl = silent.url;
      await silent.close();
      const transport = new HttpTransport(closedUrl, { connections: 1, connectionPerDevice: false, timeoutMs: 5000, client });
      try {
        const result = await transport.send(attempt());
        assert.equal(result.outcome, 'failure');
        assert.match(result.error ?? '', /^ECONNREFUSED/);
        assert.equal(result.answered, false);
      } finally {
        await transport.destroy();
      }
    });

    test("an https:// target that speaks plain HTTP fails with a readable label, not OpenSSL's text", async () => {
      const plain = createHttpServer((_request, response) => response.end('plain'));
      await new Promise<void>((resolve) => plain.listen(0, '127.0.0.1', resolve));
      const { port } = plain.address() as AddressInfo;
      const transport = new HttpTransport(`https://127.0.0.1:${port}`, { connections: 1, connectionPerDevice: false, timeoutMs: 5000, client });
      try {
        const result = await transport.send(attempt());
        assert.deepEqual([result.outcome, result.error, result.answered], ['failure', 'TLS: the server answered in plain HTTP', false]);
      } finally {
        await transport.destroy();
        plain.closeAllConnections();
        await new Promise<void>((resolve) => plain.close(() => resolve()));
      }
    });
  });
