import { test } from 'node:test';
import assert from 'node:assert/strict';
import { rm, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { ESLint } from 'eslint';
import { ROOT } from '../../helpers/cli.ts';

// The layer and cycle rules are checked on real files, written into src/ for the test and removed
// after it: the rules read the path of the file and of what it imports.

async function lint(files: Record<string, string>): Promise<ESLint.LintResult[]> {
  const written = Object.keys(files).map((name) => path.join(ROOT, name));
  try {
    for (const [name, text] of Object.entries(files)) await writeFile(path.join(ROOT, name), text);
    return await new ESLint({ cwd: ROOT }).lintFiles(written);
  } finally {
    await Promise.all(written.map((file) => rm(file, { force: true })));
  }
}

const messages = (results: ESLint.LintResult[]): string[] => results.flatMap((result) => result.messages.map((message) => `${message.ruleId ?? ''}: ${message.message}`));

test('a value import that points up a layer fails lint; the same import as a type passes', { timeout: 120_000 }, async () => {
  const tag = `lint-probe-${process.pid}`;
  const upward = await lint({
    [`src/metrics/${tag}.ts`]: "import { Engine } from '../engine/engine.ts';\n\nexport const made = (): unknown => Engine;\n",
  });
  assert.ok(
    messages(upward).some((line) => line.startsWith('@typescript-eslint/no-restricted-imports: ') && line.includes('src/metrics may not import that layer')),
    messages(upward).join('\n'),
  );
  const typeOnly = await lint({
    [`src/metrics/${tag}.ts`]: "import type { Engine } from '../engine/engine.ts';\n\nexport const named = (engine: Engine): string => engine.plan.name;\n",
  });
  assert.deepEqual(messages(typeOnly), []);
  const sideways = await lint({
    [`src/transport/${tag}.ts`]: "import { RunStats } from '../metrics/stats.ts';\n\nexport const made = (): unknown => new RunStats();\n",
  });
  assert.ok(
    messages(sideways).some((line) => line.includes('src/transport may not import that layer')),
    messages(sideways).join('\n'),
  );
});

test('src/contracts imports nothing outside itself, not even a type', { timeout: 120_000 }, async () => {
  const tag = `lint-probe-${process.pid}`;
  const outward = await lint({
    [`src/contracts/${tag}.ts`]: "import type { StatsEntry } from '../metrics/stats.ts';\n\nexport type Probe = StatsEntry['type'];\n",
  });
  assert.ok(
    messages(outward).some((line) => line.startsWith('@typescript-eslint/no-restricted-imports: ') && line.includes('src/contracts is a leaf')),
    messages(outward).join('\n'),
  );
  const inside = await lint({
    [`src/contracts/${tag}.ts`]: "import type { StatsRow } from './results.ts';\n\nexport type Probe = StatsRow['type'];\n",
  });
  assert.deepEqual(messages(inside), []);
});

test('a cycle between modules fails lint', { timeout: 120_000 }, async () => {
  const a = `lint-cycle-a-${process.pid}`;
  const b = `lint-cycle-b-${process.pid}`;
  const results = await lint({
    [`src/util/${a}.ts`]: `import { b } from './${b}.ts';\n\nexport const a = (): number => b() + 1;\n`,
    [`src/util/${b}.ts`]: `import { a } from './${a}.ts';\n\nexport const b = (): number => (Math.random() > 2 ? a() : 0);\n`,
  });
  assert.ok(
    messages(results).some((line) => line.startsWith('import-x/no-cycle: ')),
    messages(results).join('\n'),
  );
});

// The tree itself is linted by `npm run lint`, which `npm test` runs before the tests.
