import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';

/**
 * An HTTP server with a known capacity: it serves one request at a time and each takes
 * `SERVICE_MS` (5 ms: about 200 requests per second), queueing the rest in arrival order. Run as
 * its own process (`node --import tsx serial-server.ts`), so neither the generator nor wrk shares
 * its event loop; it prints its port on stdout.
 */
const SERVICE_MS = Number(process.env.SERVICE_MS ?? 5);
const queue: (() => void)[] = [];
let busy = false;
let served = 0;

function next(): void {
  const answer = queue.shift();
  if (!answer) {
    busy = false;
    return;
  }
  busy = true;
  setTimeout(() => {
    answer();
    next();
  }, SERVICE_MS);
}

const server = createServer((request, response) => {
  request.resume();
  request.on('end', () => {
    queue.push(() => {
      served++;
      response.writeHead(200, { 'content-type': 'application/json' });
      response.end(request.url === '/served' ? String(served) : '{"ok":true}');
    });
    if (!busy) next();
  });
});
server.keepAliveTimeout = 60_000;
server.listen(0, '127.0.0.1', () => {
  process.stdout.write(`${(server.address() as AddressInfo).port}\n`);
});
process.on('SIGTERM', () => server.close(() => process.exit(0)));
