import js from '@eslint/js';
import importX from 'eslint-plugin-import-x';
import { createTypeScriptImportResolver } from 'eslint-import-resolver-typescript';
import tseslint from 'typescript-eslint';

/**
 * The layers of src/, highest first, and what each may import at run time (util/, contracts/ and
 * errors.ts are open to all; contracts/ holds the types the results JSON promises and imports
 * nothing outside itself, not even a type). DESIGN.md's direction: cli, ui → run → report, capacity, distributed → engine →
 * metrics; engine → transport, profile, template, identity. A type-only import may cross where a
 * contract type lives; a value import that points up or sideways fails lint.
 */
const LAYERS = {
  cli: ['ui', 'run', 'report', 'capacity', 'distributed', 'engine', 'metrics', 'transport', 'profile', 'template', 'identity'],
  ui: ['run', 'report', 'capacity', 'distributed', 'engine', 'metrics', 'profile'],
  run: ['report', 'capacity', 'distributed', 'engine', 'metrics', 'transport', 'profile', 'template', 'identity'],
  report: ['engine', 'metrics', 'profile'],
  capacity: ['engine', 'metrics', 'profile'],
  distributed: ['engine', 'metrics', 'profile'],
  engine: ['metrics', 'transport', 'profile', 'template', 'identity'],
  metrics: ['profile'],
  transport: [],
  profile: ['template', 'identity'],
  template: ['identity'],
  identity: [],
  util: [],
  contracts: [],
};

/** Folders every layer may import. */
const OPEN = ['util', 'contracts'];

/** One block per layer: value imports of any folder it may not use are refused, by the import's path. */
function layerRules() {
  const folders = Object.keys(LAYERS);
  return Object.entries(LAYERS).map(([layer, allowed]) => {
    const refused = folders.filter((folder) => folder !== layer && !OPEN.includes(folder) && !allowed.includes(folder));
    return {
      files: [`src/${layer}/**/*.ts`],
      rules: {
        '@typescript-eslint/no-restricted-imports': [
          'error',
          {
            patterns: [
              {
                // `../engine/x.ts`, `../../engine/x.ts`: the folder as a path segment above this one.
                regex: `^(\\.\\./)+(${refused.join('|')})/`,
                allowTypeImports: true,
                message: `src/${layer} may not import that layer at run time (layers: docs in eslint.config.js and README's Layout); a type-only import of a contract type may cross.`,
              },
              { regex: '^(\\.\\./)+broker-fixture/', allowTypeImports: true, message: 'only cli, run and the library start the embedded fixtures' },
            ].filter((pattern) => !pattern.regex.includes('broker-fixture') || !['cli', 'run'].includes(layer)),
          },
        ],
      },
    };
  });
}

export const config = tseslint.config(
  { ignores: ['dist/**', 'node_modules/**', 'scratch/**', 'eslint.config.js', 'bin/**', '**/*.mjs', 'test/fixtures/lint/**'] },
  js.configs.recommended,
  ...tseslint.configs.recommendedTypeChecked,
  {
    languageOptions: {
      parserOptions: { projectService: true, tsconfigRootDir: import.meta.dirname },
    },
    rules: {
      '@typescript-eslint/no-floating-promises': [
        'error',
        { allowForKnownSafeCalls: [{ from: 'package', package: 'node:test', name: ['test', 'it', 'describe', 'suite', 'before', 'after', 'beforeEach', 'afterEach'] }] },
      ],
      '@typescript-eslint/no-misused-promises': 'error',
      '@typescript-eslint/consistent-type-imports': 'error',
      '@typescript-eslint/restrict-template-expressions': ['error', { allowNumber: true, allowBoolean: true }],
      '@typescript-eslint/no-unused-vars': ['error', { argsIgnorePattern: '^_' }],
      // A union that grows a member (a stop reason, an outcome) must be handled wherever it is switched on.
      '@typescript-eslint/switch-exhaustiveness-check': ['error', { considerDefaultExhaustiveForUnions: true }],
    },
  },
  ...layerRules(),
  {
    // The results contract is a leaf: what it promises must not change when another folder does.
    files: ['src/contracts/**/*.ts'],
    rules: {
      '@typescript-eslint/no-restricted-imports': ['error', { patterns: [{ regex: '^(\\.\\./|node:)', message: 'src/contracts is a leaf: it imports only from src/contracts, and only types.' }] }],
    },
  },
  {
    // The pages' browser scripts and their declarations: each folder's tsconfig.json (DOM, no Node)
    // types them. tsc reports an undefined name there against the DOM's globals, as no-undef would
    // against a hand-kept list; typescript-eslint advises leaving it to tsc. The two no-unsafe rules
    // cannot see a JSDoc cast (ESTree drops the parentheses it hangs on), so in the scripts they
    // would flag every typed read of JSON from the server; noImplicitAny still refuses untyped code.
    files: ['src/*/browser/**/*.js', 'src/*/browser/**/*.d.ts'],
    rules: { 'no-undef': 'off' },
  },
  {
    // Classic scripts, inlined into the pages: no imports, one global scope per page.
    files: ['src/*/browser/**/*.js'],
    languageOptions: { sourceType: 'script' },
    rules: { '@typescript-eslint/no-unsafe-argument': 'off', '@typescript-eslint/no-unsafe-assignment': 'off' },
  },
  {
    // No module cycle at run time in the library's code; `import type` does not count.
    files: ['src/**/*.ts', 'broker-fixture/**/*.ts', 'test/fixtures/lint/**/*.ts'],
    plugins: { 'import-x': importX },
    settings: {
      'import-x/resolver-next': [createTypeScriptImportResolver({ project: import.meta.dirname })],
      'import-x/extensions': ['.ts'],
      'import-x/parsers': { '@typescript-eslint/parser': ['.ts'] },
    },
    rules: { 'import-x/no-cycle': ['error', { ignoreExternal: true }] },
  },
);

export default config;
