import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { readFile } from 'node:fs/promises';
import { HttpFixture } from '../../broker-fixture/index.ts';
import { runCli } from '../helpers/cli.ts';
import { TempDir } from '../helpers/temp-files.ts';

const EMAIL = 'ops@example.com';
const PASSWORD = 'Tr0ub4dor&3 "never logged"';

interface StatsRow {
  readonly type: string;
  readonly name: string;
  readonly requests: number;
  readonly failures: number;
}
interface Results {
  readonly stats: readonly StatsRow[];
  readonly failures: readonly { readonly name: string; readonly error: string; readonly count: number }[];
}

let temp: TempDir;
before(async () => {
  temp = await TempDir.create();
  process.env.MARKET_EMAIL = EMAIL;
  process.env.MARKET_PASSWORD = PASSWORD;
});
after(async () => {
  await temp.remove();
});

const isProductCall = (name: string): boolean => name.startsWith('/products/') && !name.endsWith('(re-auth)');

/** The share of the first attempts of product calls that the server refused with 401. */
function unauthorizedShare(results: Results): { share: number; refused: number; calls: number } {
  const calls = results.stats.filter((row) => isProductCall(row.name)).reduce((sum, row) => sum + row.requests, 0);
  const refused = results.failures.filter((row) => isProductCall(row.name) && row.error === 'HTTP 401').reduce((sum, row) => sum + row.count, 0);
  return { share: refused / calls, refused, calls };
}

async function runAgainst(profile: string, tokenTtlMs: number, flags: readonly string[]): Promise<{ results: Results; texts: string[]; tokens: string[] }> {
  const fixture = new HttpFixture({ tokenTtlMs });
  const url = await fixture.listen(0);
  const name = profile.replace(/\W/g, '-');
  const json = temp.file(`${name}.json`);
  const csv = temp.file(name);
  const log = temp.file(`${name}.ndjson`);
  const html = temp.file(`${name}.html`);
  try {
    const result = await runCli(['run', profile, '--target', url, '--json', json, '--csv', csv, '--log-requests', log, '--html', html, ...flags], 120_000);
    // 99: a profile threshold failed (the seed's own behaviour fails them); anything else is a fault.
    assert.ok(result.code === 0 || result.code === 99, `exit ${String(result.code)}: ${result.stderr}`);
    const texts = [
      result.stdout,
      result.stderr,
      ...(await Promise.all([json, `${csv}_stats.csv`, `${csv}_stats_history.csv`, `${csv}_failures.csv`, log, html].map((file) => readFile(file, 'utf8')))),
    ];
    return { results: JSON.parse(texts[2] ?? '{}') as Results, texts, tokens: fixture.issuedTokens() };
  } finally {
    await fixture.close();
  }
}

function assertNoSecrets(texts: readonly string[], tokens: readonly string[]): void {
  assert.ok(tokens.length > 0);
  const all = texts.join('\n');
  for (const form of [PASSWORD, JSON.stringify(PASSWORD).slice(1, -1), EMAIL]) assert.ok(!all.includes(form), `the outputs hold ${form}`);
  const leaked = tokens.filter((token) => all.includes(token));
  assert.deepEqual(leaked.length, 0, `${leaked.length} of ${tokens.length} tokens reached the outputs`);
  // Nothing token-shaped either: a JWT or a fixture token that was not in the server's set any more.
  assert.doesNotMatch(all, /eyJ[\w-]{10,}\.[\w-]{10,}|(?:access|refresh)\.[\w-]{20}/);
}

test('market API with 5 s access tokens, 30 users for 16 s: at most 2% of product calls get 401, no secret in any output', { timeout: 150_000 }, async () => {
  const { results, texts, tokens } = await runAgainst('profiles/market-api.yaml', 5_000, ['-u', '30', '-t', '16s']);
  const { share, refused, calls } = unauthorizedShare(results);
  assert.ok(calls > 1000, `${calls} product calls`);
  assert.ok(share <= 0.02, `${refused} of ${calls} product calls got 401 (${(share * 100).toFixed(2)}%)`);
  const row = (name: string): StatsRow | undefined => results.stats.find((entry) => entry.name === name);
  assert.ok((row('/auth/token/')?.requests ?? 0) >= 30);
  const renewals = (row('/auth/token/refresh/')?.requests ?? 0) + results.stats.filter((entry) => entry.name.endsWith('(re-auth)')).reduce((sum, entry) => sum + entry.requests, 0);
  assert.ok(renewals > 0);
  assertNoSecrets(texts, tokens);
  console.log(
    `market-api (lifecycle): ${refused} of ${calls} product calls got 401 (${(share * 100).toFixed(2)}%); logins ${row('/auth/token/')?.requests ?? 0}, refreshes and re-auth retries ${renewals}`,
  );
});

test("the seed's own behaviour (no lifecycle) collects 401s once tokens expire", { timeout: 60_000 }, async () => {
  const { results, texts, tokens } = await runAgainst('profiles/market-api-locust.yaml', 2000, ['-u', '10', '-r', '10', '-t', '8s']);
  const { share, refused, calls } = unauthorizedShare(results);
  assert.ok(share > 0.2, `${refused} of ${calls} product calls got 401`);
  assert.ok(!results.stats.some((entry) => entry.name.endsWith('(re-auth)')));
  assertNoSecrets(texts, tokens);
});
