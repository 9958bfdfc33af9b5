import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { setTimeout as delay } from 'node:timers/promises';
import { HttpFixture } from '../../broker-fixture/index.ts';
import { jwtExpiry } from '../../src/engine/device/auth-lifecycle.ts';
import { Engine } from '../../src/engine/engine.ts';
import type { AttemptRecord } from '../../src/engine/events.ts';
import { EnvironmentReader, loadRunPlan } from '../../src/profile/load.ts';
import { MARKET_ENV, MARKET_LOGIN, refreshTask } from '../helpers/market-user.ts';
import { startCli } from '../helpers/cli.ts';
import { TempDir } from '../helpers/temp-files.ts';

/** A market user that browses products; its refresh step is there only for the lifecycle (weight 0). */
const userWith = (auth: string): string => `kind: device
name: lifecycle-user
identity: { scheme: pattern, pattern: "u-{index:3}" }
${auth}
${MARKET_LOGIN}tasks:
  - name: /products/[id]/
    repeat: 5
    sleep: 40ms
    http: { path: "/api/v1/products/{{ repeat.number }}/" }
${refreshTask(0, 'access: $.access, refresh: $.refresh')}wait: { model: constant, time: 60ms }
`;

let temp: TempDir;
before(async () => {
  temp = await TempDir.create();
});
after(async () => {
  await temp.remove();
});

async function run(name: string, auth: string, tokenTtlMs: number, devices: number, iterations: number): Promise<{ engine: Engine; log: AttemptRecord[] }> {
  await temp.write(`${name}.device.yaml`, userWith(auth));
  const profile = await temp.write(`${name}.yaml`, `fleet:\n  - device: ${name}.device.yaml\n    count: ${devices}\nspawnRate: 200\niterations: ${iterations}\nseed: 3\n`);
  const fixture = new HttpFixture({ tokenTtlMs });
  const url = await fixture.listen(0);
  try {
    const plan = await loadRunPlan(profile, { target: url }, new EnvironmentReader(MARKET_ENV));
    const engine = new Engine({ plan, target: url });
    const log: AttemptRecord[] = [];
    engine.on('attempt', (record) => log.push(record));
    await engine.run();
    return { engine, log };
  } finally {
    await fixture.close();
  }
}

test('after a 401 the device logs in once and retries once, in its own row; the 401 stays counted', { timeout: 60_000 }, async () => {
  const { engine, log } = await run('relogin', 'auth: { login: /auth/token/ }', 500, 6, 10);
  const products = engine.stats.entryFor('GET', '/products/[id]/');
  const retries = engine.stats.entryFor('GET', '/products/[id]/ (re-auth)');
  const logins = engine.stats.entryFor('POST', '/auth/token/');
  assert.ok(products.failures > 0, 'tokens that live 500 ms expire during the run');
  assert.deepEqual([...products.errors.keys()], ['HTTP 401']);
  assert.equal(retries.requests, products.failures, 'each 401 is retried exactly once');
  assert.equal(retries.failures, 0, 'the retry carries the fresh token');
  assert.equal(logins.requests, 6 + products.failures);
  assert.equal(logins.failures, 0);
  // In the log: the 401, then the login, then the same request again.
  const bySeq = new Map(log.map((record) => [`${record.device}#${record.seq}`, record]));
  const unauthorized = log.filter((record) => record.error === 'HTTP 401');
  assert.equal(unauthorized.length, products.failures);
  for (const record of unauthorized) {
    const login = bySeq.get(`${record.device}#${record.seq + 1}`);
    const retry = bySeq.get(`${record.device}#${record.seq + 2}`);
    assert.equal(login?.name, '/auth/token/');
    assert.equal(retry?.name, '/products/[id]/ (re-auth)');
    assert.equal(retry?.target, record.target);
    assert.equal(retry?.outcome, 'ok');
  }
});

describe('credentials renewed ahead of expiry: no request is refused', () => {
  const variants: readonly (readonly [string, string, number])[] = [
    ['expires_in from the response', 'expiresIn: $.expires_in', 1000],
    ['the JWT exp claim', 'jwt: access', 2500],
    ['a lifetime the model states', 'ttl: 900ms', 1000],
  ];
  for (const [label, expiry, ttl] of variants) {
    test(label, { timeout: 60_000 }, async () => {
      const { engine, log } = await run(`renew-${ttl}`, `auth:\n  login: /auth/token/\n  refresh: /auth/token/refresh/\n  ${expiry}`, ttl, 6, 12);
      const failed = engine.stats.entries.filter((entry) => entry.failures > 0).map((entry) => `${entry.name}: ${[...entry.errors.keys()].join(', ')}`);
      assert.deepEqual(failed, []);
      const refreshes = engine.stats.entryFor('POST', '/auth/token/refresh/').requests;
      assert.ok(refreshes >= 6, `every device renewed at least once (${refreshes} refreshes)`);
      assert.equal(engine.stats.entryFor('POST', '/auth/token/').requests, 6, 'renewal needs no new login');
      assert.ok(!engine.stats.entries.some((entry) => entry.name.endsWith('(re-auth)')), 'nothing needed a retry');
      // Renewals come between a task's requests, not after a failure.
      assert.ok(log.some((record) => record.name === '/auth/token/refresh/'));
    });
  }
});

test('fleetsim fixture --token-ttl: JWT access tokens with exp and expires_in, answered 401 once expired', { timeout: 30_000 }, async () => {
  const fixture = startCli(['fixture', '--http-port', '0', '--mqtt-port', '0', '--token-ttl', '1s'], 25_000);
  try {
    await fixture.waitForStderr(/access tokens valid for 1s/);
    const base = /HTTP fixture listening on (http:\/\/[\d.:]+)/.exec(fixture.stderrSoFar())?.[1] ?? '';
    const issuedAt = Date.now();
    const login = await fetch(`${base}/api/v1/auth/token/`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ email: 'a@b.c', password: 'pw' }) });
    const tokens = (await login.json()) as { access: string; expires_in: number };
    assert.equal(tokens.expires_in, 1);
    const exp = jwtExpiry(tokens.access) ?? 0;
    assert.ok(exp * 1000 <= issuedAt + 2000 && exp * 1000 >= issuedAt - 1000, `exp ${exp} about a second after ${issuedAt}`);
    const products = (): Promise<number> => fetch(`${base}/api/v1/products/`, { headers: { authorization: `Bearer ${tokens.access}` } }).then((response) => response.status);
    assert.equal(await products(), 200);
    const deadline = Date.now() + 5000;
    let status = 200;
    while (status === 200 && Date.now() < deadline) {
      await delay(50);
      status = await products();
    }
    assert.equal(status, 401);
    assert.ok(Date.now() - issuedAt >= 1000, 'not before the token lived its second');
  } finally {
    fixture.child.kill('SIGINT');
    await fixture.done;
  }
});
