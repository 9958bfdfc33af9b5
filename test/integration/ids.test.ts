import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { readFile } from 'node:fs/promises';
import { parse } from 'csv-parse/sync';
import { runCli } from '../helpers/cli.ts';
import { TempDir } from '../helpers/temp-files.ts';

let temp: TempDir;
before(async () => {
  temp = await TempDir.create();
});
after(async () => {
  await temp.remove();
});

interface LogLine {
  readonly device: string;
  readonly type: string;
  readonly target: string;
}

async function logOf(file: string): Promise<LogLine[]> {
  return (await readFile(file, 'utf8'))
    .trim()
    .split('\n')
    .map((line) => JSON.parse(line) as LogLine);
}

async function idsOf(args: string[]): Promise<Record<string, string>[]> {
  const result = await runCli(['ids', ...args]);
  assert.equal(result.code, 0, result.stderr);
  return parse<Record<string, string>>(result.stdout, { columns: true });
}

test('fleetsim ids lists the ids a run uses: hex48 ids of iot-nodes', { timeout: 60_000 }, async () => {
  const log = temp.file('nodes.ndjson');
  const run = await runCli(['run', 'profiles/iot-node.yaml', '-u', '30', '-r', '300', '--iterations', '1', '--log-requests', log, '--quiet']);
  assert.equal(run.code, 0, run.stderr);
  const ids = await idsOf(['profiles/iot-node.yaml', '-u', '30']);
  assert.deepEqual(Object.keys(ids[0] ?? {}), ['index', 'id', 'model']);
  assert.deepEqual(
    ids.map((row) => row.index),
    Array.from({ length: 30 }, (_, i) => String(i)),
  );
  assert.deepEqual(new Set((await logOf(log)).map((line) => line.device)), new Set(ids.map((row) => row.id)));
  // Another seed, other ids; the same seed, the same ids.
  const reseeded = await idsOf(['profiles/iot-node.yaml', '-u', '30', '--seed', '7']);
  assert.notDeepEqual(
    reseeded.map((row) => row.id),
    ids.map((row) => row.id),
  );
  assert.deepEqual(await idsOf(['profiles/iot-node.yaml', '-u', '30']), ids);
});

test("a mixed fleet: pattern and sequential ids interleaved as the run interleaves them, with client ids drawn from each device's stream", { timeout: 60_000 }, async () => {
  await temp.write(
    'node.device.yaml',
    `kind: device\nname: node\nidentity: { scheme: pattern, pattern: "node-{index:4}" }\ntasks:\n  - name: /health\n    http: { method: GET, path: /health }\nwait: { model: constant, time: 100ms }\n`,
  );
  await temp.write(
    'lamp.device.yaml',
    `kind: device\nname: lamp\nidentity: { scheme: sequential-hex, base: "0x1e0000000000", width: 12 }\nmqtt:\n  clientId: "c-{{ device.index }}-{{ hex(6) }}"\ntasks:\n  - name: lamp/changed\n    publish: { topic: "devices/{{ device.id }}/lamp", qos: 1, json: { level: "{{ walk(0, 100, 5, 1) }}" } }\nwait: { model: constant, time: 100ms }\n`,
  );
  const profile = await temp.write(
    'mixed.yaml',
    `kind: profile\nname: mixed\nseed: 3\nfleet:\n  - device: node.device.yaml\n    count: 6\n  - device: lamp.device.yaml\n    count: 4\nspawnRate: 100\nduration: 2s\n`,
  );
  const log = temp.file('mixed.ndjson');
  const run = await runCli(['run', profile, '--iterations', '2', '--log-requests', log, '--quiet']);
  assert.equal(run.code, 0, run.stderr);
  const ids = await idsOf([profile]);
  assert.deepEqual(Object.keys(ids[0] ?? {}), ['index', 'id', 'model', 'clientId']);
  assert.equal(ids.filter((row) => row.model === 'node').length, 6);
  assert.ok(ids.filter((row) => row.model === 'node').every((row) => /^node-\d{4}$/.test(row.id ?? '') && row.id === `node-${row.index?.padStart(4, '0')}` && row.clientId === ''));
  const lines = await logOf(log);
  assert.deepEqual(new Set(lines.map((line) => line.device)), new Set(ids.map((row) => row.id)));
  // Each lamp connected with exactly the client id listed for it.
  const connects = new Map(lines.filter((line) => line.type === 'CONNECT').map((line) => [line.device, line.target]));
  const lamps = ids.filter((row) => row.model === 'lamp');
  assert.equal(lamps.length, 4);
  for (const lamp of lamps) {
    assert.match(lamp.clientId ?? '', /^c-\d+-[0-9a-f]{6}$/);
    assert.equal(connects.get(lamp.id ?? ''), lamp.clientId, `lamp ${lamp.index}`);
  }
});

test('fleetsim ids --csv writes a file; a bad profile exits 2', { timeout: 30_000 }, async () => {
  const file = temp.file('lamps.csv');
  const result = await runCli(['ids', 'profiles/lamp.yaml', '-u', '1000', '--csv', file]);
  assert.equal(result.code, 0, result.stderr);
  const rows = parse<Record<string, string>>(await readFile(file, 'utf8'), { columns: true });
  assert.equal(rows.length, 1000);
  assert.equal(rows[999]?.id, (0x1e0000000000 + 999).toString(16));
  assert.match(result.stderr, /1000 devices of profiles\/lamp\.yaml \(seed 42\) written to/);
  const missing = await runCli(['ids', temp.file('nowhere.yaml')]);
  assert.equal(missing.code, 2);
  assert.doesNotMatch(missing.stderr, /\n\s+at /);
});
