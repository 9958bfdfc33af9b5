import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { describePlan } from '../../../src/cli/validate-command.ts';
import { EnvironmentReader, loadDeviceModel, loadRunPlan } from '../../../src/profile/load.ts';
import { jwtExpiry } from '../../../src/engine/device/auth-lifecycle.ts';
import { loadErrorFor, TempDir } from '../../helpers/temp-files.ts';

let temp: TempDir;
before(async () => {
  temp = await TempDir.create();
});
after(async () => {
  await temp.remove();
});

/** A login in boot, a product call and a refresh task; `auth` is spliced in. */
const modelWith = (auth: string): string => `kind: device
name: holder
${auth}
boot:
  - name: login
    http:
      method: POST
      path: /login
      json: { user: "u" }
    capture: { access: $.access, refresh: $.refresh }
tasks:
  - name: product
    http: { path: "/p", headers: { authorization: "Bearer {{ vars.access }}" } }
  - name: renew
    http:
      method: POST
      path: /renew
      json: { refresh: "{{ vars.refresh }}" }
    capture: { access: $.access }
  - name: ping
    publish: { topic: t, payload: x }
  - name: bare
    http: { path: /bare }
`;

describe('auth: each mistake is refused at its field, with file and line', () => {
  const cases: readonly (readonly [string, string, RegExp])[] = [
    ['auth:\n  login: logn', 'auth.login', /:4:\d+: auth\.login: no step is named 'logn' \(did you mean 'login'\?\)/],
    ['auth:\n  login: bare', 'auth.login', /step 'bare' captures nothing/],
    ['auth:\n  login: ping', 'auth.login', /step 'ping' is a publish; login must be an HTTP step/],
    ['auth:\n  login: login\n  refresh: renew', 'auth.refresh', /a refresh needs to know when the token expires/],
    ['auth:\n  login: login\n  refresh: login\n  ttl: 1m', 'auth.refresh', /must name another step than login/],
    ['auth:\n  login: login\n  jwt: access\n  ttl: 1m', 'auth.ttl', /give one of expiresIn, jwt, ttl, not both 'jwt' and 'ttl'/],
    ['auth:\n  login: login\n  jwt: acess', 'auth.jwt', /no step captures 'acess' \(did you mean 'access'\?\)/],
    ['auth:\n  login: login\n  expiresIn: $.a[', 'auth.expiresIn', /is not a path into the response/],
    ['auth:\n  login: login\n  expiresIn: expires_in', 'auth.expiresIn', /does not match the expected form/],
    ['auth:\n  login: login\n  ttl: 10s\n  refreshBefore: 10s', 'auth.refreshBefore', /must be shorter than ttl/],
    ['auth:\n  login: login\n  refreshBefore: 1s', 'auth.refreshBefore', /needs expiresIn, jwt or ttl/],
    ['auth:\n  refresh: renew', 'auth', /missing required field 'login'/],
    ['auth:\n  login: login\n  expiry: 10s', 'auth.expiry', /unknown field 'expiry'/],
  ];
  for (const [auth, field, message] of cases) {
    test(`${field}: ${message.source}`, async () => {
      const error = await loadErrorFor(temp, modelWith(auth));
      assert.equal(error.field, field);
      assert.match(error.message, /\.device\.yaml:\d+:\d+: /);
      assert.match(error.message, message);
    });
  }
});

test('a valid lifecycle names its steps and its expiry', async () => {
  const file = await temp.write('ok.yaml', modelWith('auth:\n  login: login\n  refresh: renew\n  jwt: access\n  refreshBefore: 3s'));
  const model = await loadDeviceModel(file);
  assert.equal(model.auth?.login.name, 'login');
  assert.equal(model.auth?.refresh?.name, 'renew');
  assert.deepEqual(model.auth?.expiry, { kind: 'jwt', variable: 'access', slot: 0, where: `${file}:6:8` });
  assert.equal(model.auth?.refreshBeforeMs, 3000);
  const fixed = await loadDeviceModel(await temp.write('fixed.yaml', modelWith('auth:\n  login: login\n  ttl: 15m')));
  assert.deepEqual(fixed.auth?.expiry, { kind: 'fixed', ms: 900_000 });
  assert.equal(fixed.auth?.refresh, undefined);
});

test('jwtExpiry reads exp from a JWT and nothing from anything else', () => {
  const part = (value: unknown): string => Buffer.from(JSON.stringify(value)).toString('base64url');
  assert.equal(jwtExpiry(`${part({ alg: 'none' })}.${part({ exp: 1_900_000_000 })}.sig`), 1_900_000_000);
  assert.equal(jwtExpiry(`${part({ alg: 'none' })}.${part({ sub: 'x' })}.sig`), undefined);
  assert.equal(jwtExpiry('access.abcdefgh'), undefined);
  assert.equal(jwtExpiry('a.%%%.b'), undefined);
  assert.equal(jwtExpiry(12), undefined);
});

test("validate says what the shipped market user does with its tokens, and the seed's user does not", async () => {
  const environment = new EnvironmentReader({ MARKET_EMAIL: 'a@example.com', MARKET_PASSWORD: 'pw-123456' });
  const described = describePlan(await loadRunPlan('profiles/market-api.yaml', {}, environment));
  assert.match(
    described,
    /Token lifecycle: logs in with POST \/auth\/token\/, renews before the exp of the JWT in vars\.access with POST \/auth\/token\/refresh\/; after an HTTP 401 logs in again and retries once/,
  );
  const seed = describePlan(await loadRunPlan('profiles/market-api-locust.yaml', {}, environment));
  assert.match(seed, /market-user-locust/);
  assert.doesNotMatch(seed, /Token lifecycle/);
});
