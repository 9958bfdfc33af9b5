import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { AuthLifecycle } from '../../../src/engine/device/auth-lifecycle.ts';
import type { BoundAuth } from '../../../src/engine/device/auth-lifecycle.ts';
import type { BoundStep } from '../../../src/engine/device/bound-model.ts';
import { bindModel } from '../../../src/engine/device/bound-model.ts';
import { RunStats } from '../../../src/metrics/stats.ts';
import { loadDeviceModel } from '../../../src/profile/load.ts';
import type { AttemptResult } from '../../../src/transport/types.ts';
import { TempDir } from '../../helpers/temp-files.ts';

const ok = (body = '{}'): AttemptResult => ({ outcome: 'ok', error: undefined, bytesIn: 0, answered: true, body });
const unauthorized: AttemptResult = { outcome: 'failure', error: 'HTTP 401', bytesIn: 0, answered: true };
const refused: AttemptResult = { outcome: 'failure', error: 'HTTP 503', bytesIn: 0, answered: true };

/** The lifecycle of a model with a login, a product call and a refresh; `expiry` is spliced into auth. */
async function lifecycle(expiry: string): Promise<{ auth: AuthLifecycle; login: BoundStep; refresh: BoundStep; product: BoundStep; stats: RunStats }> {
  const temp = await TempDir.create();
  try {
    const file = await temp.write(
      'm.yaml',
      `kind: device
name: m
auth: { login: login, refresh: refresh${expiry} }
boot:
  - name: login
    http: { method: POST, path: /login, json: {} }
    capture: { access: $.access }
tasks:
  - name: product
    http: { path: /p }
  - name: refresh
    weight: 0
    http: { method: POST, path: /refresh, json: {} }
    capture: { access: $.access }
`,
    );
    const stats = new RunStats();
    const bound = bindModel(await loadDeviceModel(file), stats.entryFor.bind(stats));
    const boundAuth = bound.auth as BoundAuth;
    return { auth: new AuthLifecycle(boundAuth), login: boundAuth.login, refresh: boundAuth.refresh as BoundStep, product: bound.tasks[0]?.steps[0] as BoundStep, stats };
  } finally {
    await temp.remove();
  }
}

describe('token lifecycle', () => {
  test('a 401 leads to one login and one retry in its own row; a 401 on the retry or the login ends it there', async () => {
    const { auth, login, product, stats } = await lifecycle(', ttl: 10s');
    assert.equal(auth.after(product, unauthorized, 0, 0, []), login);
    const retry = auth.after(login, ok(), 0, 0, []);
    assert.equal(retry?.spec, product.spec);
    assert.equal(retry?.stats, stats.entryFor('GET', 'product (re-auth)'));
    assert.equal(auth.after(retry, unauthorized, 0, 0, []), undefined, 'no second retry');
    // A login that fails: no retry.
    assert.equal(auth.after(product, unauthorized, 0, 0, []), login);
    assert.equal(auth.after(login, refused, 0, 0, []), undefined);
    // A 401 on the login itself never loops.
    assert.equal(auth.after(login, unauthorized, 0, 0, []), undefined);
  });

  test('renewal: a refresh once due, a login once expired, nothing again after a failed renewal until new credentials', async () => {
    const { auth, login, refresh, product } = await lifecycle(', ttl: 10s, refreshBefore: 2s');
    assert.equal(auth.after(login, ok(), 1000, 1010, []), undefined);
    assert.equal(auth.before(product, 8999), undefined, 'not due yet');
    assert.equal(auth.before(product, 9000), refresh, 'due 2 s before expiry at 11 s');
    assert.equal(auth.before(refresh, 9000), undefined, 'nothing goes before a renewal');
    assert.equal(auth.after(refresh, ok(), 9000, 9010, []), product, 'then the request it went before');
    assert.equal(auth.after(product, ok(), 9010, 9020, []), undefined);
    assert.equal(auth.before(product, 16_999), undefined, 'the refresh moved expiry to 19 s');
    assert.equal(auth.before(product, 19_500), login, 'expired: log in instead of refreshing');
    assert.equal(auth.after(login, refused, 19_500, 19_510, []), product);
    assert.equal(auth.before(product, 20_000), undefined, 'a failed renewal is not tried before every request');
  });

  test('the lifetime comes from the response or the JWT; without one nothing is renewed ahead', async () => {
    const fromResponse = await lifecycle(', expiresIn: $.expires_in');
    fromResponse.auth.after(fromResponse.login, ok('{"access":"a","expires_in":100}'), 0, 5, []);
    assert.equal(fromResponse.auth.before(fromResponse.product, 79_999), undefined);
    assert.equal(fromResponse.auth.before(fromResponse.product, 80_000), fromResponse.refresh, 'a fifth of 100 s ahead');
    const jwt = await lifecycle(', jwt: access');
    const claims = Buffer.from(JSON.stringify({ exp: Math.floor(Date.now() / 1000) + 100 })).toString('base64url');
    jwt.auth.after(jwt.login, ok(), 0, 0, [`h.${claims}.s`]);
    assert.equal(jwt.auth.before(jwt.product, 70_000), undefined);
    assert.equal(jwt.auth.before(jwt.product, 81_000), jwt.refresh);
    const notJwt = await lifecycle(', jwt: access');
    notJwt.auth.after(notJwt.login, ok(), 0, 0, ['opaque-token']);
    assert.equal(notJwt.auth.before(notJwt.product, 1e9), undefined);
  });
});
