import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdir } from 'node:fs/promises';
import path from 'node:path';
import { ProfileError } from '../../../src/errors.ts';
import { loadRunPlan } from '../../../src/run/load-plan.ts';
import { TempDir } from '../../helpers/temp-files.ts';

// Inputs that used to crash (an unhandled stream error, a ReferenceError, an array of 1e308) or
// pass silently (a rounded seed) each end in one ProfileError naming the file, line and field.
let temp: TempDir;
const device = path.resolve('devices/iot-node.yaml');
before(async () => {
  temp = await TempDir.create();
});
after(async () => {
  await temp.remove();
});

async function refusal(name: string, text: string): Promise<ProfileError> {
  const file = await temp.write(name, text);
  try {
    await loadRunPlan(file);
  } catch (error) {
    assert.ok(error instanceof ProfileError, `expected a ProfileError, got ${error instanceof Error ? error.stack : String(error)}`);
    return error;
  }
  assert.fail(`${name} loaded although it is invalid`);
}

const fleet = (entry = '') => `fleet:\n  - device: ${device}\n    count: 2\n${entry}`;

test('a missing or unreadable data file is refused at its line, in every format', async () => {
  await mkdir(temp.file('folder.csv'));
  for (const file of ['missing.csv', 'missing.ndjson', 'folder.csv']) {
    const error = await refusal(`data-${file}.yaml`, `kind: profile\n${fleet(`    data: { file: ${file} }\n`)}duration: 1s\n`);
    assert.equal(error.field, 'fleet[0].data.file');
    assert.equal(error.line, 5);
    assert.match(error.message, file.startsWith('missing') ? /cannot read it: no such file or directory \(ENOENT\)/ : /cannot read it: is a directory \(EISDIR\)/);
  }
});

test('aliases of aliases past the limit, and nesting past 64 levels, are refused as invalid YAML', async () => {
  const bomb = [
    'a: &a [x, x, x, x, x, x, x, x, x]',
    ...'bcdef'.split('').map(
      (name, i) =>
        `${name}: &${name} [${Array(9)
          .fill(`*${'abcdef'[i] ?? ''}`)
          .join(', ')}]`,
    ),
  ].join('\n');
  assert.match((await refusal('bomb.yaml', `kind: profile\n${bomb}\n${fleet()}duration: 1s\n`)).message, /invalid YAML: its aliases \(\*name\) of aliases expand too far/);
  assert.match((await refusal('deep.yaml', `kind: profile\nx: ${'['.repeat(100)}${']'.repeat(100)}\n`)).message, /invalid YAML: nested 65 levels deep; .* \(at most 64\)/);
  // A few aliases are fine: they are how YAML shares a value.
  const shared = await temp.write('shared.yaml', `kind: profile\nthresholds: &t ["p95 < 500ms"]\n${fleet()}duration: 1s\n`);
  assert.equal((await loadRunPlan(shared)).thresholds.length, 1);
});

test('counts, rates and repeats past their maxima are refused at their line', async () => {
  const cases: [string, RegExp][] = [
    [`fleet:\n  - device: ${device}\n    count: 1e308\nduration: 1s\n`, /:4:12: fleet\[0\]\.count: must be at most 1000000, got 1e\+308$/],
    [`fleet:\n  - device: ${device}\n    count: 600000\n  - device: ${device}\n    count: 600000\nduration: 1s\n`, /:3:3: fleet: the counts add up to 1200000 devices: at most 1000000/],
    [`${fleet()}spawnRate: 1e12\nduration: 1s\n`, /spawnRate: must be at most 1000000, got 1000000000000$/],
    [`${fleet()}iterations: 1e308\n`, /iterations: must be at most 1000000000, got 1e\+308$/],
    [`${fleet()}duration: 1e308\n`, /duration: must be at most 2073600, got 1e\+308$/],
    [`${fleet()}duration: 1s\nhttp: { connections: 1e9 }\n`, /http\.connections: must be at most 100000/],
  ];
  for (const [i, [text, expected]] of cases.entries()) assert.match((await refusal(`huge-${i}.yaml`, `kind: profile\n${text}`)).message, expected);
});

test('a seed beyond 2^53 is refused (it would be rounded); quoted, it is kept exactly', async () => {
  const error = await refusal('seed.yaml', `kind: profile\nseed: 123456789012345678901\n${fleet()}duration: 1s\n`);
  assert.equal(error.field, 'seed');
  assert.match(error.message, /must be at most 9007199254740991, .*quote it/);
  const quoted = await temp.write('seed-quoted.yaml', `kind: profile\nseed: "123456789012345678901"\n${fleet()}duration: 1s\n`);
  assert.equal((await loadRunPlan(quoted)).seed, '123456789012345678901');
});

test('type messages read as English: an array, an object, an integer', async () => {
  assert.match((await refusal('grammar-1.yaml', 'kind: profile\nfleet: {}\n')).message, /fleet: must be an array, got an object$/);
  assert.match((await refusal('grammar-2.yaml', `kind: profile\n${fleet()}iterations: [1]\n`)).message, /iterations: must be an integer, got an array$/);
});

test('a threshold naming no row the profile can produce is refused before the run, with a guess', async () => {
  const error = await refusal('misspelt.yaml', `kind: profile\n${fleet()}duration: 1s\nthresholds:\n  - "p95 < 500ms"\n  - "POST /dta: failures < 1%"\n`);
  assert.match(error.message, /misspelt\.yaml:8:5: thresholds\[1\]: 'POST \/dta: failures < 1%': no row 'POST \/dta' in this profile's results: did you mean 'POST \/data'\?/);
  const file = await temp.write('fine.yaml', `kind: profile\n${fleet()}duration: 1s\n`);
  await assert.rejects(loadRunPlan(file, { thresholds: ['GET /gret: p95 < 1s'] }), /^UsageError: --threshold: 'GET \/gret: p95 < 1s': no row 'GET \/gret'.*did you mean 'GET \/greet'\?/);
  // Every row the run makes is a selector: a step by name or TYPE name, a type, its aggregate, Aggregated.
  const plan = await loadRunPlan(file, { thresholds: ['/data: p95 < 1s', 'GET /greet: failures < 1', 'HTTP: rps > 0', 'HTTP Aggregated: p99 < 1s', 'Aggregated: failures < 1%'] });
  assert.equal(plan.thresholds.length, 5);
});
