import type { HttpAction } from '../../../src/profile/types.ts';
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { readFile } from 'node:fs/promises';
import path from 'node:path';
import { ProfileError } from '../../../src/errors.ts';
import { apportion, EnvironmentReader, loadDeviceModel, loadRunPlan } from '../../../src/profile/load.ts';
import { schemaFiles } from '../../../src/profile/schema-files.ts';
import { loadErrorFor, MINIMAL_DEVICE, profileFor, TempDir } from '../../helpers/temp-files.ts';

let temp: TempDir;
before(async () => {
  temp = await TempDir.create();
});
after(async () => {
  await temp.remove();
});

const loadError = (deviceText: string, profileExtra?: string): Promise<ProfileError> => loadErrorFor(temp, deviceText, profileExtra);

describe('profile errors name the file, line, column and field', () => {
  test('an unknown key points at the key', async () => {
    const error = await loadError(MINIMAL_DEVICE.replace('    http:\n', '    htp:\n'));
    assert.equal(error.field, 'tasks[0].htp');
    assert.equal(error.line, 5);
    assert.equal(error.column, 5);
    assert.match(error.message, /\.device\.yaml:5:5: tasks\[0\]\.htp: unknown field 'htp'/);
  });

  test('a wrong type points at the value', async () => {
    const error = await loadError(MINIMAL_DEVICE, 'iterations: many\n');
    assert.equal(error.field, 'iterations');
    assert.match(error.message, /\.yaml:7:13: iterations: must be an integer, got a string/);
  });

  test('an unknown template function points inside the string', async () => {
    const error = await loadError(MINIMAL_DEVICE.replace('int(1, 10)', 'integer(1, 10)'));
    assert.equal(error.field, 'tasks[0].http.json.value');
    assert.equal(error.line, 9);
    // `        value: "{{ integer` — the function name starts at column 20.
    assert.equal(error.column, 20);
    assert.match(error.message, /unknown function 'integer'/);
  });

  test('an unknown template field is a load-time error', async () => {
    const error = await loadError(MINIMAL_DEVICE.replace('/data\n      json', '/data/{{ device.serial }}\n      json'));
    assert.equal(error.field, 'tasks[0].http.path');
    assert.match(error.message, /unknown field 'device\.serial'/);
  });

  test('a missing required field points at its parent', async () => {
    const error = await loadError('kind: device\ntasks:\n  - http: { path: /x }\n');
    assert.match(error.message, /missing required field 'name'/);
    assert.equal(error.line, 1);
  });

  test('a wait model without its parameter', async () => {
    const error = await loadError(MINIMAL_DEVICE.replace('  model: constant\n  time: 0s\n', '  model: pacing\n'));
    assert.equal(error.field, 'wait');
    assert.match(error.message, /wait model 'pacing' needs 'interval'/);
  });

  test('a malformed duration', async () => {
    const error = await loadError(MINIMAL_DEVICE.replace('time: 0s', 'time: soon'));
    assert.equal(error.field, 'wait.time');
    assert.match(error.message, /does not match the expected form/);
  });

  test('invalid YAML', async () => {
    const error = await loadError('kind: device\nname: [unclosed\n');
    assert.match(error.message, /invalid YAML/);
    assert.ok(error.line >= 2);
  });

  test('an identity pattern without {index} cannot be unique', async () => {
    const error = await loadError(MINIMAL_DEVICE.replace('tasks:', 'identity:\n  scheme: pattern\n  pattern: node\ntasks:'));
    assert.equal(error.field, 'identity.pattern');
    assert.match(error.message, /must contain \{index\}/);
  });

  test('a profile without an end', async () => {
    const error = await loadError(MINIMAL_DEVICE, '');
    assert.match(error.message, /needs an end/);
  });

  test('a missing device model names the profile line', async () => {
    const profile = await temp.write('missing.yaml', profileFor('nowhere.yaml'));
    await assert.rejects(loadRunPlan(profile), (error: Error) => {
      assert.ok(error instanceof ProfileError);
      assert.equal(error.field, 'fleet[0].device');
      assert.equal(error.line, 5);
      assert.match(error.message, /cannot read device model nowhere\.yaml: file not found/);
      return true;
    });
  });

  test('a bad threshold names its line', async () => {
    const error = await loadError(MINIMAL_DEVICE, 'iterations: 1\nthresholds:\n  - "p95 < fast"\n');
    assert.equal(error.field, 'thresholds[0]');
    assert.equal(error.line, 9);
  });

  test('GET with a body is rejected', async () => {
    const error = await loadError(MINIMAL_DEVICE.replace('method: POST', 'method: GET'));
    assert.equal(error.field, 'tasks[0].http.method');
  });
});

describe('valid profiles', () => {
  test('the shipped iot-node profile compiles the seed scenario', async () => {
    const plan = await loadRunPlan('profiles/iot-node.yaml');
    assert.equal(plan.devices, 200);
    assert.equal(plan.seed, '42');
    const model = plan.fleet[0]?.model;
    assert.ok(model);
    assert.deepEqual(
      model.boot.map((task) => task.name),
      ['/greet'],
    );
    assert.deepEqual(
      model.tasks.map((task) => [(task.steps[0]?.action as HttpAction | undefined)?.method, task.name, task.weight]),
      [
        ['POST', '/data', 10],
        ['POST', '/health', 1],
        ['GET', '/ota', 1],
      ],
    );
    assert.deepEqual(model.wait, { model: 'pacing', intervalMs: 5000 });
  });

  test('flags override the profile', async () => {
    const plan = await loadRunPlan('profiles/iot-node.yaml', { devices: 7, spawnRate: 3, durationMs: 2000, seed: 'x', target: 'http://127.0.0.1:1' });
    assert.equal(plan.devices, 7);
    assert.equal(plan.fleet[0]?.count, 7);
    assert.equal(plan.spawnRate, 3);
    assert.equal(plan.durationMs, 2000);
    assert.equal(plan.seed, 'x');
    assert.equal(plan.target, 'http://127.0.0.1:1');
  });

  test('a device model loads on its own', async () => {
    const model = await loadDeviceModel('devices/iot-node.yaml');
    assert.equal(model.name, 'iot-node');
    assert.equal(model.walkRanges.length, 2);
  });

  test('apportion splits devices in proportion and sums exactly', () => {
    assert.deepEqual(apportion([1, 1, 1], 10), [4, 3, 3]);
    assert.deepEqual(apportion([3, 1], 8), [6, 2]);
    assert.deepEqual(apportion([200], 1), [1]);
    const split = apportion([5, 3, 2], 1001);
    assert.equal(
      split.reduce((a, b) => a + b, 0),
      1001,
    );
  });
});

test('the published JSON Schemas match the validator', async () => {
  for (const [file, text] of schemaFiles()) {
    assert.equal(await readFile(file, 'utf8'), text, `${file} is stale: run npm run schema`);
  }
});

describe('ends, limits and keys that would be silently wrong', () => {
  test('a wait key the model does not use points at the key', async () => {
    const error = await loadError(MINIMAL_DEVICE.replace('  model: constant\n  time: 0s\n', '  model: throughput\n  perSecond: 2\n  interval: 5s\n'));
    assert.equal(error.field, 'wait.interval');
    assert.match(error.message, /not used by the throughput wait model \(it takes perSecond\)/);
  });

  test('a zero duration is refused rather than a run that sends nothing', async () => {
    const error = await loadError(MINIMAL_DEVICE, 'duration: 0s\n');
    assert.match(error.message, /duration: must be greater than 0/);
  });

  test('a duration beyond what a timer can hold is refused', async () => {
    const error = await loadError(MINIMAL_DEVICE, 'duration: 30d\n');
    assert.match(error.message, /duration: "30d" is too long: at most 24 days/);
  });

  test('credentials in the profile target are refused without echoing them', async () => {
    const error = await loadError(MINIMAL_DEVICE, 'iterations: 1\ntarget: http://admin:hunter2@127.0.0.1:1/\n');
    assert.equal(error.field, 'target');
    assert.doesNotMatch(error.message, /hunter2/);
    assert.match(error.message, /credentials in the URL/);
  });

  test('an end on the command line replaces the profile end', async () => {
    await temp.write('ends.device.yaml', MINIMAL_DEVICE);
    const profile = await temp.write('ends.yaml', profileFor('ends.device.yaml', 'duration: 60s\n'));
    const byIterations = await loadRunPlan(profile, { iterations: 20 });
    assert.equal(byIterations.durationMs, undefined);
    assert.equal(byIterations.iterations, 20);
    const byDuration = await loadRunPlan(profile, { durationMs: 5000 });
    assert.equal(byDuration.durationMs, 5000);
    const fromProfile = await loadRunPlan(profile);
    assert.equal(fromProfile.durationMs, 60_000);
  });
});

describe('steps, captures and environment references', () => {
  test('an unset environment variable names the file, line, column and variable, never a value', async () => {
    const error = await loadError(MINIMAL_DEVICE.replace('"{{ int(1, 10) }}"', '"{{ env.FLEETSIM_TEST_UNSET }}"'));
    assert.equal(error.field, 'tasks[0].http.json.value');
    assert.equal(error.line, 9);
    assert.equal(error.column, 20);
    assert.match(error.message, /environment variable FLEETSIM_TEST_UNSET is not set/);
  });

  test('a variable no task captures is refused where it is used', async () => {
    const error = await loadError(MINIMAL_DEVICE.replace('"{{ int(1, 10) }}"', '"{{ vars.token }}"'));
    assert.match(error.message, /tasks\[0\]\.http\.json\.value: template error: no task captures 'token' \(no task has a capture\)/);
  });

  test('a task with steps keeps http, repeat, sleep and capture on its steps', async () => {
    const error = await loadError(MINIMAL_DEVICE.replace('    http:\n      method: POST', '    repeat: 3\n    steps:\n      - http: { path: /a }\n    http:\n      method: POST'));
    assert.equal(error.field, 'tasks[0].http');
    assert.match(error.message, /with 'steps', put 'http' on a step/);
  });

  test('a task needs a request', async () => {
    const error = await loadError(MINIMAL_DEVICE.replace(/ {4}http:\n(?: {6}.*\n)+/, '    weight: 1\n'));
    assert.match(error.message, /tasks\[0\]: a task needs one action \('http', 'publish' or 'subscribe'\) or 'steps'/);
  });

  test('the shipped market-api profile compiles with its credentials from the environment', async () => {
    const environment = new EnvironmentReader({ MARKET_EMAIL: 'a@example.com', MARKET_PASSWORD: 'pw-123456' });
    const plan = await loadRunPlan('profiles/market-api.yaml', {}, environment);
    const model = plan.fleet[0]?.model;
    assert.deepEqual(model?.variables, ['access', 'refresh']);
    assert.deepEqual(
      model?.tasks.map((task) => [task.name, task.weight, task.steps.map((step) => `${(step.action as HttpAction).method} ${step.name}×${step.repeat}`)]),
      [
        ['/auth/token/', 1, ['POST /auth/token/×1']],
        ['list items', 2, ['GET /products/×1', 'GET /products/comments/×1']],
        ['/products/[id]/', 3, ['GET /products/[id]/×49']],
        ['/auth/token/refresh/', 4, ['POST /auth/token/refresh/×1']],
      ],
    );
    assert.equal(model?.tasks[2]?.steps[0]?.sleepMs, 300);
    assert.deepEqual(plan.secrets.map((secret) => secret.name).sort(), ['MARKET_EMAIL', 'MARKET_PASSWORD']);
  });
});

describe('TLS settings', () => {
  test('files are read relative to the profile; a missing one is an error at its line', async () => {
    await temp.write('tls.device.yaml', MINIMAL_DEVICE);
    const good = await temp.write('tls-good.yaml', profileFor('tls.device.yaml', `iterations: 1\nhttp:\n  tls:\n    ca: ${path.join(process.cwd(), 'test/fixtures/tls/ca.crt')}\n`));
    const plan = await loadRunPlan(good);
    assert.match(plan.http.tls?.ca?.toString() ?? '', /BEGIN CERTIFICATE/);
    assert.equal(plan.http.tls?.rejectUnauthorized, true);
    const error = await loadError(MINIMAL_DEVICE, 'iterations: 1\nhttp:\n  tls:\n    ca: no-such-ca.pem\n');
    assert.equal(error.field, 'http.tls.ca');
    assert.equal(error.line, 10);
    assert.match(error.message, /cannot read no-such-ca\.pem: no such file or directory \(ENOENT\)/);
    const half = await loadError(MINIMAL_DEVICE, 'iterations: 1\nhttp:\n  tls:\n    cert: client.crt\n');
    assert.match(half.message, /:10:5: http\.tls\.cert: needs 'key' too: a client certificate needs both cert and key/);
  });
});

test('a capture name that cannot be referenced is refused at its key', async () => {
  const error = await loadError(MINIMAL_DEVICE.replace('    http:\n      method: POST', '    capture: { "bad name": $.a }\n    http:\n      method: POST'));
  assert.equal(error.field, 'tasks[0].capture.bad name');
  assert.match(error.message, /'bad name' is not a variable name/);
});

test("--threshold adds to the profile's thresholds (as in k6 and Locust), never replacing them", async () => {
  await temp.write('thresholds.device.yaml', MINIMAL_DEVICE);
  const file = await temp.write('thresholds.yaml', profileFor('thresholds.device.yaml', 'iterations: 1\nthresholds:\n  - "p95 < 200ms"\n'));
  const plan = await loadRunPlan(file, { thresholds: ['failures < 1%'] });
  assert.deepEqual(plan.thresholds, ['p95 < 200ms', 'failures < 1%']);
});
