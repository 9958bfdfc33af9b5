import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { writeFile } from 'node:fs/promises';
import path from 'node:path';
import fc from 'fast-check';
import { stringify } from 'yaml';
import { isUserError } from '../../../src/errors.ts';
import { DataFileError, DataTable } from '../../../src/profile/data-file.ts';
import { loadRunPlan } from '../../../src/profile/load.ts';
import { compileTemplate, TemplateError } from '../../../src/template/compile.ts';
import type { SlotAllocator } from '../../../src/template/functions.ts';
import { TempDir } from '../../helpers/temp-files.ts';

// Property-based: whatever the input, each reader ends in a valid result or in its own error type,
// which the CLI turns into one message and exit 2; never a crash, a hang or a stray exception.
const RUNS = 150;
let temp: TempDir;
before(async () => {
  temp = await TempDir.create();
});
after(async () => {
  await temp.remove();
});

const slots: SlotAllocator = {
  allocateWalk: () => 0,
  environment: (name) => {
    if (name === 'SET') return 'value';
    throw new Error(`environment variable ${name} is not set`);
  },
  variable: (name) => {
    if (name === 'token') return 0;
    throw new Error(`no task captures '${name}'`);
  },
  data: () => 0,
};

const templatePiece = fc.oneof(
  fc.string(),
  fc.constantFrom(
    '{{',
    '}}',
    '{{ device.id }}',
    '{{ int(1, 9) }}',
    '{{ float(0, 1, 2) }}',
    '{{ pick(a, "b") }}',
    '{{ walk(0, 10, 1) }}',
    '{{ env.SET }}',
    '{{ vars.token }}',
    '{{ data.x }}',
    '{{ hex(',
    ')',
    '(',
    ',',
    '"',
    "'",
  ),
);

test('the template compiler returns a template or a TemplateError for any text', () => {
  fc.assert(
    fc.property(fc.array(templatePiece, { maxLength: 8 }), (pieces) => {
      const text = pieces.join('');
      try {
        compileTemplate(text, slots);
      } catch (error) {
        assert.ok(error instanceof TemplateError, `${JSON.stringify(text)} threw ${String(error)}`);
      }
    }),
    { numRuns: RUNS * 4 },
  );
});

const PROFILE_KEYS = [
  'kind',
  'name',
  'seed',
  'fleet',
  'spawnRate',
  'spawn',
  'duration',
  'iterations',
  'stages',
  'thresholds',
  'http',
  'target',
  'broker',
  'drainTimeout',
  '__proto__',
  'constructor',
  'durtion',
];
const scalar = fc.oneof(
  fc.string({ maxLength: 12 }),
  fc.integer({ min: -5, max: 500 }),
  fc.double({ noNaN: true, min: -10, max: 1e6 }),
  fc.boolean(),
  fc.constant(null),
  fc.constantFrom('5s', '1m30s', '0s', '-1s', 'http://127.0.0.1:1', 'p95 < 200ms', 'all-at-once'),
);
const value = fc.letrec((tie) => ({
  node: fc.oneof(
    { depthSize: 'small' },
    scalar,
    fc.array(tie('node'), { maxLength: 3 }),
    fc.dictionary(fc.constantFrom('device', 'count', 'data', 'file', 'duration', 'devices', 'rate', 'mode', 'x'), tie('node'), { maxKeys: 3 }),
  ),
})).node;

test('the profile loader loads a profile or refuses it with a user error (exit 2), whatever the document', async () => {
  const device = path.resolve('devices/iot-node.yaml');
  let run = 0;
  await fc.assert(
    fc.asyncProperty(fc.dictionary(fc.constantFrom(...PROFILE_KEYS), value, { maxKeys: 8 }), fc.boolean(), async (document, valid) => {
      const base = valid ? { kind: 'profile', name: 'fuzz', fleet: [{ device, count: 2 }], duration: '1s' } : {};
      const file = path.join(temp.file(''), `fuzz-${run++}.yaml`);
      await writeFile(file, stringify({ ...base, ...document }));
      try {
        await loadRunPlan(file);
      } catch (error) {
        assert.ok(isUserError(error), `${stringify(document)} threw ${error instanceof Error ? (error.stack ?? error.message) : String(error)}`);
      }
    }),
    { numRuns: RUNS },
  );
});

test('the data file reader returns a table or a DataFileError for any bytes', async () => {
  let run = 0;
  const bytes = fc.oneof(
    fc.uint8Array({ maxLength: 200 }),
    fc
      .array(fc.constantFrom('id,key\n', 'a,b\n', '"q",1\n', '"open\n', 'x\n', ',,\n', '\n', '\xff\xfe', '{"id":"a","key":1}\n', '{"id":\n', '[1]\n', '{"id":{"n":1},"key":2}\n'), { maxLength: 8 })
      .map((parts) => Buffer.from(parts.join(''), 'latin1')),
  );
  await fc.assert(
    fc.asyncProperty(bytes, fc.constantFrom('.csv', '.ndjson'), async (content, ext) => {
      const file = path.join(temp.file(''), `data-${run++}${ext}`);
      await writeFile(file, content);
      try {
        const table = await DataTable.read(file);
        assert.ok(table.rows > 0 && table.columns.length > 0);
        for (let column = 0; column < table.columns.length; column++) assert.equal(typeof table.value(table.rows - 1, column), 'string');
      } catch (error) {
        assert.ok(error instanceof DataFileError, `${JSON.stringify(Buffer.from(content).toString('latin1'))} threw ${String(error)}`);
      }
    }),
    { numRuns: RUNS },
  );
});
