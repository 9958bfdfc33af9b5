import { once } from 'node:events';
import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { HttpTransport } from './http.ts';
import type { HttpClientKind } from './http.ts';

const WARM_UP_REQUESTS = 200;
const WARM_UP_CONCURRENCY = 10;
const WARM_UP_TIMEOUT_MS = 2000;

/**
 * Sends a few hundred requests through fleetsim's own HTTP path (a pool, `HttpExchange`, the run's
 * HTTP/1 client: undici's and its llhttp parser, compiled on first use, or fleetsim's own) to a server inside this process,
 * before the run's clock starts: a cold process otherwise pays for that compiling and JIT in its
 * first second. The target never sees these requests, and nothing counts them.
 */
export async function warmUpHttp(client: HttpClientKind): Promise<void> {
  const server = createServer((request, response) => {
    request.resume();
    request.on('end', () => response.end('{"ok":true}'));
  });
  server.listen(0, '127.0.0.1');
  await once(server, 'listening');
  const { port } = server.address() as AddressInfo;
  const transport = new HttpTransport(`http://127.0.0.1:${port}`, { connections: WARM_UP_CONCURRENCY, connectionPerDevice: false, timeoutMs: WARM_UP_TIMEOUT_MS, client });
  const headers = { 'content-type': 'application/json' };
  const loop = async (device: number): Promise<void> => {
    for (let i = device; i < WARM_UP_REQUESTS; i += WARM_UP_CONCURRENCY) {
      // A failure here changes nothing in the run: it only leaves the path colder.
      await transport.send({ deviceIndex: device, method: 'POST', path: '/warm-up', headers, body: '{"warm":true}', timeoutMs: WARM_UP_TIMEOUT_MS });
    }
  };
  try {
    await Promise.all(Array.from({ length: WARM_UP_CONCURRENCY }, (_, device) => loop(device)));
  } finally {
    await transport.destroy();
    server.closeAllConnections();
    server.close();
  }
}
