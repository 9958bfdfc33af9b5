import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { HttpFixture } from '../../broker-fixture/index.ts';
import { Engine } from '../../src/engine/engine.ts';
import type { AttemptRecord } from '../../src/engine/events.ts';
import { EnvironmentReader, loadRunPlan } from '../../src/profile/load.ts';
import { MARKET_ENV, MARKET_LOGIN, refreshTask } from '../helpers/market-user.ts';
import { TempDir } from '../helpers/temp-files.ts';

/** The shipped market-user model with the think times shortened, so a test runs in seconds. */
const QUICK_MARKET_USER = `kind: device
name: market-user
identity:
  scheme: pattern
  pattern: "user-{index:4}"
${MARKET_LOGIN}tasks:
  - name: list items
    weight: 2
    steps:
      - name: /products/
        http: { path: /api/v1/products/ }
      - name: /products/comments/
        http: { path: /api/v1/products/comments/ }
  - name: /products/[id]/
    weight: 3
    repeat: 5
    sleep: 2ms
    http: { path: "/api/v1/products/{{ repeat.number }}/" }
${refreshTask(4, 'access: $.access')}wait: { model: between, min: 0s, max: 5ms }
`;

let temp: TempDir;
before(async () => {
  temp = await TempDir.create();
  await temp.write('market-user.yaml', QUICK_MARKET_USER);
  await temp.write('broken-capture.yaml', QUICK_MARKET_USER.replace('refresh: $.refresh }', 'refresh: $.refresh_token }'));
});
after(async () => {
  await temp.remove();
});

async function runMarket(device: string, seed: string): Promise<{ engine: Engine; fixture: HttpFixture; log: AttemptRecord[] }> {
  const profile = await temp.write(`market-${device}`, `fleet:\n  - device: ${device}\n    count: 12\nspawnRate: 500\niterations: 6\nseed: ${seed}\n`);
  const fixture = new HttpFixture();
  const url = await fixture.listen(0);
  const plan = await loadRunPlan(profile, { target: url }, new EnvironmentReader(MARKET_ENV));
  const engine = new Engine({ plan, target: url });
  const log: AttemptRecord[] = [];
  engine.on('attempt', (record) => log.push(record));
  await engine.run();
  await fixture.close();
  return { engine, fixture, log };
}

const ROUTES: Readonly<Record<string, string>> = {
  'POST /auth/token/': 'POST /api/v1/auth/token/',
  'POST /auth/token/refresh/': 'POST /api/v1/auth/token/refresh/',
  'GET /products/': 'GET /api/v1/products/',
  'GET /products/comments/': 'GET /api/v1/products/comments/',
  'GET /products/[id]/': 'GET /api/v1/products/{id}/',
};

test('login captures tokens that authorise every later request; steps and repeats are counted as the server counts them', { timeout: 30_000 }, async () => {
  const { engine, fixture, log } = await runMarket('market-user.yaml', '5');
  const failures = engine.stats.entries.filter((entry) => entry.failures > 0).map((entry) => `${entry.name}: ${[...entry.errors.keys()].join(', ')}`);
  assert.deepEqual(failures, [], 'a product request without a valid token would be a 401');
  for (const entry of engine.stats.entries) {
    assert.equal(fixture.counts[ROUTES[`${entry.type} ${entry.name}`] ?? '']?.ok, entry.requests, `${entry.type} ${entry.name}`);
  }
  assert.equal(engine.stats.entryFor('POST', '/auth/token/').requests, 12);
  // A product task is 5 requests in a row, numbered 1..5; list items is two requests.
  assert.equal(engine.stats.entryFor('GET', '/products/[id]/').requests % 5, 0);
  assert.equal(engine.stats.entryFor('GET', '/products/').requests, engine.stats.entryFor('GET', '/products/comments/').requests);
  const products = log.filter((record) => record.name === '/products/[id]/').sort((a, b) => a.device.localeCompare(b.device) || a.seq - b.seq);
  assert.ok(products.length >= 5);
  products.forEach((record, i) => assert.equal(record.target, `/api/v1/products/${(i % 5) + 1}/`, `${record.device} seq ${record.seq}`));
});

test('secrets and tokens never reach the request log, which stays identical across runs despite fresh tokens', { timeout: 30_000 }, async () => {
  const first = await runMarket('market-user.yaml', '9');
  const second = await runMarket('market-user.yaml', '9');
  const text = JSON.stringify(first.log);
  // Every token the fixture issues is a JWT, which starts with its header: none may be in the text.
  assert.doesNotMatch(text, /correct-horse-battery|ops@example\.com|eyJhbGciOiJIUzI1NiIsInR5cCI6IkpXVCJ9\./);
  assert.match(text, /\{\{ env\.MARKET_PASSWORD \}\}/);
  assert.match(text, /\{\{ vars\.refresh \}\}/);
  const sent = (log: AttemptRecord[]): string[] => log.map((r) => JSON.stringify([r.device, r.seq, r.type, r.name, r.target, r.body])).sort();
  assert.deepEqual(sent(second.log), sent(first.log));
});

test('a capture the response lacks fails the attempt with its reason', { timeout: 30_000 }, async () => {
  const { engine } = await runMarket('broken-capture.yaml', '5');
  const login = engine.stats.entryFor('POST', '/auth/token/');
  assert.equal(login.failures, 12);
  assert.deepEqual([...login.errors], [['capture refresh: $.refresh_token is not in the response', 12]]);
});

test('secrets with quotes, backslashes and spaces, and a token rotated by the request that sent it, stay out of the log', { timeout: 30_000 }, async () => {
  const rotating = QUICK_MARKET_USER.replace(
    'json: { refresh: "{{ vars.refresh }}" }\n    capture: { access: $.access }',
    'json: { refresh: "{{ vars.refresh }}" }\n    capture: { access: $.access, refresh: $.refresh }',
  ).replace('http: { path: /api/v1/products/ }', 'http: { path: "/api/v1/products/?who={{ env.MARKET_PASSWORD }}" }');
  assert.notEqual(rotating, QUICK_MARKET_USER);
  await temp.write('rotating.yaml', rotating);
  const profile = await temp.write('market-rotating', 'fleet:\n  - device: rotating.yaml\n    count: 6\nspawnRate: 500\niterations: 8\nseed: 3\n');
  const fixture = new HttpFixture();
  const url = await fixture.listen(0);
  const password = 'p"w\\ dé 12345';
  const plan = await loadRunPlan(profile, { target: url }, new EnvironmentReader({ ...MARKET_ENV, MARKET_PASSWORD: password }));
  const engine = new Engine({ plan, target: url });
  const log: AttemptRecord[] = [];
  engine.on('attempt', (record) => log.push(record));
  await engine.run();
  await fixture.close();
  const text = log.map((record) => `${record.target} ${record.body ?? ''}`).join('\n');
  assert.ok(
    log.some((record) => record.name === '/products/'),
    'the path with the secret was exercised',
  );
  for (const form of [password, JSON.stringify(password).slice(1, -1), 'p%22w%5C%20d%C3%A9']) assert.ok(!text.includes(form), `the log holds ${form}`);
  assert.doesNotMatch(text, /eyJhbGciOiJIUzI1NiIsInR5cCI6IkpXVCJ9\.[A-Za-z0-9_-]{8}/, 'a token reached the log');
  // Every rotation captured both tokens (a missing one fails the attempt) and sent a token the server knows.
  assert.equal(engine.stats.entryFor('POST', '/auth/token/refresh/').failures, 0);
});
