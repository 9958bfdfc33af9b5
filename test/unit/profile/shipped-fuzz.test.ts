import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { cp, readdir, readFile, writeFile } from 'node:fs/promises';
import path from 'node:path';
import fc from 'fast-check';
import { isMap, isSeq, parseDocument } from 'yaml';
import type { Document } from 'yaml';
import { isUserError } from '../../../src/errors.ts';
import { EnvironmentReader, loadRunPlan } from '../../../src/profile/load.ts';
import { ROOT, runCli } from '../../helpers/cli.ts';
import { TempDir } from '../../helpers/temp-files.ts';

// The shipped profiles and device models, mutated the ways a new user gets them wrong (wrong
// types, huge numbers, prototype names, files that are not there) and the ways a hostile file
// does (deep nesting, aliases of aliases). Every case must load or be refused with a user error
// (the CLI's one message and exit 2): never another exception. Most cases load in-process; a few
// go through the CLI to check the exit code and that no stack trace is printed.
const RUNS = Number(process.env.FUZZ_RUNS ?? 300);

let temp: TempDir;
let originals: Map<string, string>;
const env = new EnvironmentReader({ MARKET_EMAIL: 'a@b.c', MARKET_PASSWORD: 'pw' });

before(async () => {
  temp = await TempDir.create();
  await cp(path.join(ROOT, 'profiles'), temp.file('profiles'), { recursive: true });
  await cp(path.join(ROOT, 'devices'), temp.file('devices'), { recursive: true });
  originals = new Map();
  for (const dir of ['profiles', 'devices']) {
    for (const name of await readdir(temp.file(dir))) {
      if (name.endsWith('.yaml')) originals.set(`${dir}/${name}`, await readFile(temp.file(`${dir}/${name}`), 'utf8'));
    }
  }
});
after(async () => {
  await temp.remove();
});

type Path = (string | number)[];

/** Every path to a value in the document, collections included. */
function paths(node: unknown, at: Path = []): Path[] {
  const found: Path[] = [at];
  if (isMap(node)) for (const pair of node.items) found.push(...paths(pair.value, [...at, String((pair.key as { value?: unknown }).value)]));
  else if (isSeq(node)) node.items.forEach((item, i) => found.push(...paths(item, [...at, i])));
  return found;
}

const HUGE = [1e308, -1e308, 2 ** 60, 1e21, 2 ** 70 + 1, -1, 0, 0.5, Number.MAX_SAFE_INTEGER + 2];
const WRONG = ['text', '', [], {}, null, true, [1, [2]], { a: { b: 'c' } }, '5', '1e308', '-5s', '99999999d', 'p95 < 1ms'];
const MISSING = ['missing.yaml', 'missing.csv', 'missing.ndjson', 'nowhere/missing.pem', '../devices', '/dev/null', '.'];
const PROTO = ['__proto__', 'constructor', 'toString', 'hasOwnProperty', 'prototype', 'valueOf'];

type Mutation =
  { kind: 'set'; pick: number; value: unknown } | { kind: 'key'; pick: number; key: string; value: unknown } | { kind: 'deep'; depth: number } | { kind: 'aliases'; width: number; levels: number };

const anyValue = fc.oneof(fc.constantFrom(...HUGE), fc.constantFrom(...WRONG), fc.constantFrom(...MISSING), fc.constantFrom(...PROTO));
const mutation: fc.Arbitrary<Mutation> = fc.oneof(
  { weight: 6, arbitrary: fc.record({ kind: fc.constant('set' as const), pick: fc.nat(), value: anyValue }) },
  { weight: 2, arbitrary: fc.record({ kind: fc.constant('key' as const), pick: fc.nat(), key: fc.constantFrom(...PROTO, 'count', 'file', 'jwt', 'thresholds'), value: anyValue }) },
  { weight: 1, arbitrary: fc.record({ kind: fc.constant('deep' as const), depth: fc.integer({ min: 10, max: 3000 }) }) },
  { weight: 1, arbitrary: fc.record({ kind: fc.constant('aliases' as const), width: fc.integer({ min: 2, max: 12 }), levels: fc.integer({ min: 1, max: 8 }) }) },
);

function mutate(text: string, change: Mutation): string {
  if (change.kind === 'deep') return `${text}\nzz: ${'['.repeat(change.depth)}${']'.repeat(change.depth)}\n`;
  if (change.kind === 'aliases') {
    const lines = [`a0: &a0 [${Array(change.width).fill('x').join(', ')}]`];
    for (let level = 1; level <= change.levels; level++)
      lines.push(
        `a${level}: &a${level} [${Array(change.width)
          .fill(`*a${level - 1}`)
          .join(', ')}]`,
      );
    return `${text}\n${lines.join('\n')}\n`;
  }
  const document: Document = parseDocument(text);
  const all = paths(document.contents);
  const target = all[change.pick % all.length] ?? [];
  if (change.kind === 'set') {
    if (target.length === 0) return JSON.stringify(change.value);
    document.setIn(target, document.createNode(change.value));
  } else {
    const node = document.getIn(target, true);
    const mapPath = isMap(node) ? target : target.slice(0, -1);
    const parent = mapPath.length === 0 ? document.contents : document.getIn(mapPath, true);
    if (!isMap(parent)) return text;
    parent.set(change.key, document.createNode(change.value));
  }
  return String(document);
}

const files = (): string[] => [...originals.keys()];

test(`shipped profiles and models, mutated: loaded or refused with a user error, never a crash (${RUNS} cases)`, async () => {
  const profiles = files().filter((file) => file.startsWith('profiles/'));
  await fc.assert(
    fc.asyncProperty(fc.constantFrom(...profiles), fc.constantFrom(...files()), mutation, async (profile, mutated, change) => {
      const original = originals.get(mutated) as string;
      const text = mutate(original, change);
      await writeFile(temp.file(mutated), text);
      try {
        await loadRunPlan(temp.file(profile), {}, env);
      } catch (error) {
        assert.ok(isUserError(error), `${mutated} mutated by ${JSON.stringify(change)} (loading ${profile}) threw ${error instanceof Error ? (error.stack ?? error.message) : String(error)}`);
        assert.doesNotMatch(error.message, /\n\s+at /);
      } finally {
        await writeFile(temp.file(mutated), original);
      }
    }),
    { numRuns: RUNS },
  );
});

test('through the CLI, inputs that used to crash end with exit 2 and one message, no stack', async () => {
  const device = path.join(ROOT, 'devices/iot-node.yaml');
  const cases = {
    'huge-count.yaml': `kind: profile\nfleet:\n  - device: ${device}\n    count: 1e308\nduration: 1s\n`,
    'missing-csv.yaml': `kind: profile\nfleet:\n  - device: ${device}\n    count: 1\n    data: { file: missing.csv }\nduration: 1s\n`,
    'alias-bomb.yaml': `kind: profile\n${mutate('', { kind: 'aliases', width: 10, levels: 6 })}fleet:\n  - device: ${device}\n    count: 1\nduration: 1s\n`,
    'prototype.yaml': `kind: profile\nfleet:\n  - device: ${device}\n    count: 1\n    __proto__: { count: 5 }\nduration: 1s\n`,
  };
  const results = await Promise.all(
    Object.entries(cases).map(async ([name, text]) => {
      const file = await temp.write(name, text);
      return [name, await runCli(['run', file, '--json', temp.file(`${name}.json`)], 30_000)] as const;
    }),
  );
  for (const [name, result] of results) {
    assert.equal(result.code, 2, `${name}: ${result.stderr}`);
    const lines = result.stderr.trim().split('\n');
    assert.equal(lines.length, 1, `${name}: ${result.stderr}`);
    assert.match(lines[0] ?? '', new RegExp(`^fleetsim: .*${name.replace('.', '\\.')}(:\\d+:\\d+)?: `), name);
  }
});
