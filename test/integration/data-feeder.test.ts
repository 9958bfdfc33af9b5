import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { readFile, writeFile } from 'node:fs/promises';
import type { Results } from '../../src/metrics/results.ts';
import { runCli } from '../helpers/cli.ts';
import { TempDir } from '../helpers/temp-files.ts';

let temp: TempDir;
const DEVICES = 10_000;

const DEVICE = `kind: device
name: registered
identity: { scheme: data, column: device_id }
tasks:
  - name: /data
    http:
      method: POST
      path: /data
      json: { temperature: "{{ int(1, 40) }}", humidity: "{{ int(1, 99) }}", site: "{{ data.site }}", token: "{{ data.token }}" }
wait: { model: constant, time: 100ms }
`;

const row = (i: number): { id: string; token: string; site: string } => ({
  id: `reg-${String(i).padStart(5, '0')}`,
  token: `tok-${(i * 7919) % 100_003}-s3cr3t`,
  site: `site ${i % 13}, "${i % 2 === 0 ? 'north' : 'south'}"`,
});
const csvField = (value: string): string => (/[",\n]/.test(value) ? `"${value.replaceAll('"', '""')}"` : value);

before(async () => {
  temp = await TempDir.create();
  const lines = ['device_id,token,site', ...Array.from({ length: DEVICES }, (_, i) => [row(i).id, row(i).token, row(i).site].map(csvField).join(','))];
  await temp.write('devices.csv', `${lines.join('\n')}\n`);
  await temp.write('registered.device.yaml', DEVICE);
  await temp.write(
    'fleet.yaml',
    `kind: profile\nname: registered\nseed: 5\nfleet:\n  - device: registered.device.yaml\n    count: ${DEVICES}\n    data: { file: devices.csv, secret: [token] }\nspawnRate: 5000\nduration: 30s\nhttp: { connections: 50 }\n`,
  );
});
after(async () => {
  await temp.remove();
});

interface LogLine {
  readonly device: string;
  readonly body: string;
}

async function runFleet(spawnRate: string, label: string): Promise<{ lines: LogLine[]; results: Results; stdout: string }> {
  const log = temp.file(`${label}.ndjson`);
  const json = temp.file(`${label}.json`);
  const result = await runCli(['run', temp.file('fleet.yaml'), '-r', spawnRate, '--iterations', '1', '--log-requests', log, '--json', json, '--quiet'], 90_000);
  assert.equal(result.code, 0, result.stderr);
  const text = await readFile(log, 'utf8');
  const lines = text
    .trim()
    .split('\n')
    .map((line) => JSON.parse(line) as LogLine);
  return { lines, results: JSON.parse(await readFile(json, 'utf8')) as Results, stdout: `${result.stdout}${result.stderr}${text}` };
}

test('a 10,000-row CSV drives 10,000 devices, each with its own row, at any spawn rate; secret columns never appear', { timeout: 120_000 }, async () => {
  const fast = await runFleet('5000', 'fast');
  assert.equal(fast.results.total.requests, DEVICES);
  assert.equal(fast.results.total.failures, 0);
  const byDevice = new Map(fast.lines.map((line) => [line.device, line]));
  assert.equal(byDevice.size, DEVICES);
  for (const i of [0, 1, 2, 1234, 5000, 7777, DEVICES - 1]) {
    const expected = row(i);
    const line = byDevice.get(expected.id);
    assert.ok(line, `device ${expected.id} ran`);
    const body = JSON.parse(line.body) as { site: string; token: string };
    assert.equal(body.site, expected.site, `device ${i}'s own site`);
    // The token went out (the fixture answered 200 to it) but the log shows its reference.
    assert.equal(body.token, '{{ data.token }}');
  }
  assert.ok(!fast.stdout.includes('s3cr3t'), 'a secret data value appears in no output');
  // Another spawn rate starts the devices in another rhythm; each still gets the same row.
  const slow = await runFleet('2500', 'slow');
  const key = (line: LogLine): string => `${line.device} ${line.body.replace(/"temperature":\d+,"humidity":\d+,/, '')}`;
  assert.deepEqual(new Set(slow.lines.map(key)), new Set(fast.lines.map(key)));
});

test('bad data exits 2 naming the profile line and the data file line', { timeout: 60_000 }, async () => {
  const cases: [string, string, string, RegExp][] = [
    [
      'missing-column.csv',
      'device_id,site\nreg-0,a\n',
      '',
      /fleet\[0\]\.data: .*missing-column\.csv has no column 'token' \(device model registered reads \{\{ data\.token \}\}; its columns: device_id, site\)/,
    ],
    ['ragged.csv', 'device_id,token,site\nreg-0,t,a\nreg-1,t\n', '', /ragged\.csv:3: 2 fields, but the header has 3/],
    ['encoding.csv', 'device_id,token,site\nreg-0,t,a\nreg-1,\xff\xfe,b\n', '', /encoding\.csv:3: column 'token' is not valid UTF-8/],
    ['short.csv', 'device_id,token,site\nreg-0,t,a\n', '', /short\.csv has 1 rows but this entry runs 2 devices/],
    ['dupes.csv', 'device_id,token,site\nreg-0,t,a\nreg-0,u,b\n', '', /id 'reg-0' in column 'device_id' is on rows 1 and 2: ids must be unique/],
    ['bad.ndjson', '{"device_id":"reg-0","token":"t","site":"a"}\n{"device_id":"reg-1",\n', '', /bad\.ndjson:2: not JSON/],
    ['secret.csv', 'device_id,token,site\nreg-0,t,a\nreg-1,u,b\n', 'password', /fleet\[0\]\.data\.secret\[0\]: .*has no column 'password'/],
  ];
  for (const [name, content, secret, message] of cases) {
    // latin1 keeps \xff as the one byte it is: the file is not valid UTF-8 where the case wants it.
    await writeFile(temp.file(name), Buffer.from(content, 'latin1'));
    const profile = await temp.write(
      `${name}.yaml`,
      `kind: profile\nname: bad\nfleet:\n  - device: registered.device.yaml\n    count: 2\n    data: { file: ${name}${secret ? `, secret: [${secret}]` : ''} }\nduration: 1s\n`,
    );
    const result = await runCli(['validate', profile]);
    assert.equal(result.code, 2, `${name}: ${result.stdout}${result.stderr}`);
    assert.match(result.stderr, /\.yaml:\d+:\d+: /, `${name} names the profile line: ${result.stderr}`);
    assert.match(result.stderr, message, name);
    assert.equal(result.stderr.trim().split('\n').length, 1, result.stderr);
    assert.doesNotMatch(result.stderr, /\n\s+at /);
  }
  const noFile = await temp.write('no-file.yaml', 'kind: profile\nname: bad\nfleet:\n  - device: registered.device.yaml\n    count: 2\nduration: 1s\n');
  const result = await runCli(['validate', noFile]);
  assert.equal(result.code, 2);
  assert.match(result.stderr, /fleet\[0\]: device model registered reads \{\{ data\.\w+ \}\} but this entry names no data file/);
});
