import { test } from 'node:test';
import assert from 'node:assert/strict';
import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { once } from 'node:events';
import { startCli } from '../helpers/cli.ts';

// `auth: { jwt: access }` on a token that is not a JWT used to read nothing, renew never, and say
// nothing. Now the first login ends the run: one message naming the model's line, the variable, the
// login step and what the token looked like (never the token), and exit 2.
const OPAQUE = 'opaque-token-0123456789abcdef';

test('an opaque token under jwt: ends the run at the first login with a clear message and exit 2', { timeout: 60_000 }, async () => {
  let logins = 0;
  const server = createServer((request, response) => {
    request.resume();
    request.on('end', () => {
      if (request.url === '/api/v1/auth/token/') logins++;
      response.setHeader('content-type', 'application/json');
      response.end(JSON.stringify(request.url === '/api/v1/auth/token/' ? { access: OPAQUE, refresh: 'refresh-1' } : []));
    });
  });
  server.listen(0, '127.0.0.1');
  await once(server, 'listening');
  const target = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  try {
    const startedAt = Date.now();
    const run = startCli(['run', 'profiles/market-api.yaml', '--target', target, '-u', '3', '-r', '100', '-t', '60s'], 50_000, undefined, undefined, { MARKET_EMAIL: 'a@b.c', MARKET_PASSWORD: 'pw' });
    const result = await run.done;
    assert.equal(result.code, 2, result.stderr);
    assert.ok(Date.now() - startedAt < 30_000, 'ended at the first login, not at the 60 s duration');
    assert.ok(logins >= 1);
    const lines = result.stderr
      .trim()
      .split('\n')
      .filter((line) => line.startsWith('fleetsim:'));
    assert.equal(lines.length, 1, result.stderr);
    assert.match(
      lines[0] ?? '',
      /^fleetsim: devices\/market-user\.yaml:16:8: auth\.jwt: 'access', captured by '\/auth\/token\/', is not a JWT: found 1 dot-separated part in 29 characters, where a JWT has three \(header\.payload\.signature\)\. For a token that is not a JWT, give its lifetime with ttl/,
    );
    assert.doesNotMatch(result.stderr, new RegExp(OPAQUE));
    assert.doesNotMatch(result.stderr, /internal error|\n\s+at /);
  } finally {
    server.close();
  }
});
