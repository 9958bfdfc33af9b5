import { test } from 'node:test';
import assert from 'node:assert/strict';
import { createServer } from 'node:net';
import type { AddressInfo } from 'node:net';
import { request } from 'undici';
import { startFixtures } from '../../broker-fixture/index.ts';

test('the embedded fixture runs in a worker thread, serves the routes and reports its counts', async () => {
  const fixtures = await startFixtures();
  try {
    const greet = await request(`${fixtures.httpUrl}/greet?id=abc`);
    await greet.body.text();
    assert.equal(greet.statusCode, 200);
    const bad = await request(`${fixtures.httpUrl}/data`, { method: 'POST', body: 'not json', headers: { 'content-type': 'application/json' } });
    await bad.body.text();
    assert.equal(bad.statusCode, 400);
    const counts = await fixtures.counts();
    assert.equal(counts['GET /greet']?.requests, 1);
    assert.equal(counts['POST /data']?.requests, 1);
    assert.equal(counts['POST /data']?.ok, 0);
  } finally {
    await fixtures.close();
  }
});

test('a fixture worker that cannot start fails the caller with the reason instead of hanging', { timeout: 10_000 }, async () => {
  const blocker = createServer();
  await new Promise<void>((resolve) => blocker.listen(0, '127.0.0.1', resolve));
  const { port } = blocker.address() as AddressInfo;
  try {
    await assert.rejects(startFixtures({ http: { port } }), /the embedded fixture failed: .*EADDRINUSE/);
  } finally {
    await new Promise((resolve) => blocker.close(resolve));
  }
});
