import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { createServer } from 'node:https';
import type { Server } from 'node:https';
import type { AddressInfo } from 'node:net';
import path from 'node:path';
import { HttpTransport } from '../../src/transport/http/http.ts';
import type { TlsOptions } from '../../src/transport/types.ts';
import { ROOT } from '../helpers/cli.ts';
import { HTTP_CLIENTS } from '../helpers/http-clients.ts';
import type { HttpClientKind } from '../../src/transport/http/http.ts';

const tlsFile = (name: string): Buffer => readFileSync(path.join(ROOT, 'test/fixtures/tls', name));
const ca = tlsFile('ca.crt');

/** An https server with a certificate from the test CA; with `mutual`, it also demands a client certificate from that CA. */
async function httpsServer(mutual: boolean): Promise<{ server: Server; url: string }> {
  const server = createServer({ key: tlsFile('server.key'), cert: tlsFile('server.crt'), ca, requestCert: mutual, rejectUnauthorized: mutual }, (request, response) => {
    response.writeHead(200, { 'content-type': 'application/json' }).end('{"ok":true}');
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  return { server, url: `https://127.0.0.1:${(server.address() as AddressInfo).port}` };
}

let plain: { server: Server; url: string };
let mutual: { server: Server; url: string };
before(async () => {
  plain = await httpsServer(false);
  mutual = await httpsServer(true);
});
after(async () => {
  for (const { server } of [plain, mutual]) {
    server.closeAllConnections();
    await new Promise((resolve) => server.close(resolve));
  }
});

async function outcomeOf(client: HttpClientKind, url: string, tls: TlsOptions | undefined): Promise<[string, string | undefined]> {
  const transport = new HttpTransport(url, { connections: 1, connectionPerDevice: false, timeoutMs: 5000, tls, client });
  try {
    const result = await transport.send({ deviceIndex: 0, method: 'GET', path: '/', headers: {}, body: undefined, timeoutMs: 5000 });
    return [result.outcome, result.error];
  } finally {
    await transport.destroy();
  }
}

for (const client of HTTP_CLIENTS) {
  test(`https with a private CA: verified with the CA, refused without it, accepted when insecure (http.client: ${client})`, async () => {
    assert.deepEqual(await outcomeOf(client, plain.url, { ca, rejectUnauthorized: true }), ['ok', undefined]);
    const [outcome, error] = await outcomeOf(client, plain.url, undefined);
    assert.equal(outcome, 'failure');
    assert.match(error ?? '', /UNABLE_TO_VERIFY_LEAF_SIGNATURE|SELF_SIGNED_CERT_IN_CHAIN|unable to verify/);
    assert.deepEqual(await outcomeOf(client, plain.url, { rejectUnauthorized: false }), ['ok', undefined]);
  });

  test(`mutual TLS: the client certificate is presented, and its absence fails (http.client: ${client})`, async () => {
    assert.deepEqual(await outcomeOf(client, mutual.url, { ca, cert: tlsFile('client.crt'), key: tlsFile('client.key'), rejectUnauthorized: true }), ['ok', undefined]);
    const [outcome] = await outcomeOf(client, mutual.url, { ca, rejectUnauthorized: true });
    assert.equal(outcome, 'failure');
  });
}
