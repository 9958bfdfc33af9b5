import { test } from 'node:test';
import assert from 'node:assert/strict';
import { createServer } from 'node:net';
import type { AddressInfo } from 'node:net';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { execute } from '../../../src/cli/main.ts';

async function cli(args: readonly string[]): Promise<{ code: number; stdout: string; stderr: string }> {
  let stdout = '';
  let stderr = '';
  const code = await execute(args, { stdout: (text) => (stdout += `${text}\n`), stderr: (text) => (stderr += `${text}\n`) });
  return { code, stdout, stderr };
}

/** Bad flags: exit 2 and one line that names the flag and echoes what was typed, never a stack. */
const cases: [string[], RegExp][] = [
  [['validate', 'profiles/iot-node.yaml', '--devices', 'abc'], /^fleetsim: --devices: expected a whole number of at least 1, got 'abc'$/],
  [['validate', 'profiles/iot-node.yaml', '-u', '2.5'], /--devices: expected a whole number of at least 1, got '2\.5'$/],
  [['validate', 'profiles/iot-node.yaml', '-u', '1000000000'], /--devices: at most 1000000 in one process, got 1000000000$/],
  [['validate', 'profiles/iot-node.yaml', '--duration', '-5s'], /--duration: '-5s' is not a duration above 0/],
  [['validate', 'profiles/iot-node.yaml', '--duration', '0s'], /--duration: '0s' is not a duration above 0/],
  [['validate', 'profiles/iot-node.yaml', '--duration', '1000h'], /--duration: '1000h' is too long: at most 24 days/],
  [['validate', 'profiles/iot-node.yaml', '--spawn-rate', 'fast'], /--spawn-rate: expected devices per second above 0, got 'fast'$/],
  [['validate', 'profiles/iot-node.yaml', '--seed', ''], /--seed: expected a seed/],
  [['validate', 'profiles/iot-node.yaml', '--target', 'http://user:s3cret@127.0.0.1:1'], /--target: credentials in the URL are not sent/],
  [['validate', 'profiles/iot-node.yaml', '--target', 'mqtt://127.0.0.1'], /--target: expected an http:\/\/ or https:\/\/ URL/],
  [['validate', 'profiles/iot-node.yaml', '--threshold', 'p97 < 1ms'], /--threshold: .*unknown metric 'p97'/],
  [['validate', 'profiles/iot-node.yaml', '--devices'], /Not enough arguments following: devices/],
  [['validate', 'profiles/iot-node.yaml', '--target', 'http//admin:pa55@host'], /--target: 'http\/\/\*\*\*@host' is not a URL/],
  [['run', 'profiles/iot-node.yaml', '--json'], /Not enough arguments following: json/],
  [['run', 'profiles/iot-node.yaml', '--log-requests', ''], /--log-requests: name a file/],
  [['fixture', '--http-port', '0', '--http-port', 'x'], /--http-port: expected a whole number from 0 to 65535, got 'x'$/],
  [['frob'], /^fleetsim: unknown command 'frob' \(commands: run, coordinate, worker, ui, validate, capacity, merge, ids, fixture/],
  [['fixture', '--error-rate', '2'], /--error-rate: expected a number from 0 to 1, got '2'$/],
  [['fixture', '--http-port', 'abc'], /--http-port: expected a whole number from 0 to 65535, got 'abc'$/],
  [['ui', 'profiles/iot-node.yaml', '--ui-port', '70000'], /^fleetsim: --ui-port: expected a whole number from 0 to 65535 \(0 picks a free port\), got '70000'$/],
  [['ui', 'profiles/iot-node.yaml', '--ui-host', ' '], /--ui-host: name an address to listen on/],
  [['ui', 'profiles/iot-node.yaml', '--json', '-'], /--json: with the UI, name a file/],
  [['run', 'profiles/iot-node.yaml', '--ui', '--workers', '2', '--ui-port', 'x'], /--ui-port: expected a whole number/],
  [['run', 'profiles/iot-node.yaml', '--ui', '--ui-port', 'x'], /--ui-port: expected a whole number/],
  [['capacity', 'profiles/iot-node.yaml', '--slo', 'p95 < 1s', '--ui', '--ui-port', '-1'], /--ui-port: expected a whole number/],
  [['fixture', '--token-ttl', 'soon'], /--token-ttl: expected a duration such as 10s or 15m \(0: tokens never expire\), got 'soon'$/],
];

for (const [args, message] of cases) {
  test(`fleetsim ${args.join(' ')}`, async () => {
    const result = await cli(args);
    assert.equal(result.code, 2, result.stderr);
    const lines = result.stderr.trim().split('\n');
    assert.equal(lines.length, 1, result.stderr);
    assert.match(lines[0] ?? '', message);
    assert.doesNotMatch(result.stderr, /s3cret|pa55|\n\s+at /);
  });
}

test('a threshold flag before the profile takes one value and leaves the profile positional alone', async () => {
  const result = await cli(['validate', '--threshold', 'p95 < 300ms', '--threshold', 'failures < 2%', 'profiles/iot-node.yaml', '-u', '3', '-u', '5']);
  assert.equal(result.code, 0, result.stderr);
  assert.match(result.stdout, /valid\. 5 devices/);
  assert.match(result.stdout, /Thresholds: .*p95 < 300ms; failures < 2%\./);
});

test('--iterations replaces the profile duration', async () => {
  const result = await cli(['validate', 'profiles/iot-node.yaml', '--iterations', '20']);
  assert.equal(result.code, 0, result.stderr);
  assert.match(result.stdout, /Ends after 20 iterations;/);
});

test('a misspelt flag or profile key is answered with the likely name; FLEETSIM_* variables stand in for flags', async () => {
  const flag = await cli(['validate', 'profiles/iot-node.yaml', '--durtion', '5s']);
  assert.equal(flag.code, 2);
  assert.match(flag.stderr.trim(), /^fleetsim: Unknown argument: durtion \(--durtion: did you mean --duration\?\)$/);
  const dir = await mkdtemp(path.join(tmpdir(), 'fleetsim-flags-'));
  try {
    const profile = path.join(dir, 'typo.yaml');
    await writeFile(profile, `kind: profile\nname: typo\nfleet:\n  - device: ${path.resolve('devices/iot-node.yaml')}\n    count: 1\ndurtion: 5s\n`);
    const key = await cli(['validate', profile]);
    assert.equal(key.code, 2);
    assert.match(key.stderr, /typo\.yaml:6:1: durtion: unknown field 'durtion': did you mean 'duration'\?/);
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
  process.env.FLEETSIM_DURATION = '7m';
  try {
    assert.match((await cli(['validate', 'profiles/iot-node.yaml'])).stdout, /Ends after 7m;/);
    assert.match((await cli(['validate', 'profiles/iot-node.yaml', '-t', '9s'])).stdout, /Ends after 9s;/, 'the flag wins');
  } finally {
    delete process.env.FLEETSIM_DURATION;
  }
});

test("Locust's and k6's habits: -i for --iterations, compound durations, p(95) thresholds", async () => {
  const iterations = await cli(['validate', 'profiles/iot-node.yaml', '-i', '7']);
  assert.equal(iterations.code, 0, iterations.stderr);
  assert.match(iterations.stdout, /Ends after 7 iterations;/);
  const compound = await cli(['validate', 'profiles/iot-node.yaml', '-t', '1m30s', '--threshold', 'p(95)<200']);
  assert.equal(compound.code, 0, compound.stderr);
  assert.match(compound.stdout, /Ends after 90s;/);
  assert.match(compound.stdout, /Thresholds: .*p\(95\)<200\./);
});

test('fixture on a port already in use: exit 2 naming the port', async () => {
  const blocker = createServer();
  await new Promise<void>((resolve) => blocker.listen(0, '127.0.0.1', resolve));
  const { port } = blocker.address() as AddressInfo;
  try {
    const result = await cli(['fixture', '--http-port', String(port)]);
    assert.equal(result.code, 2);
    assert.match(result.stderr.trim(), new RegExp(`^fleetsim: --http-port: 127\\.0\\.0\\.1:${port} is already in use`));
  } finally {
    await new Promise((resolve) => blocker.close(resolve));
  }
});
