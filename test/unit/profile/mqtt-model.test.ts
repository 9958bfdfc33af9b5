import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import type { ProfileError } from '../../../src/errors.ts';
import type { PublishAction, RunPlan } from '../../../src/profile/types.ts';
import { loadErrorFor, loadPlanFor, TempDir } from '../../helpers/temp-files.ts';

let temp: TempDir;
before(async () => {
  temp = await TempDir.create();
});
after(async () => {
  await temp.remove();
});

const LAMP = `kind: device
name: lamp
mqtt:
  version: 5
  ackTimeout: 2s
tasks:
  - repeat: 10
    publish:
      topic: devices/{{ device.id }}/lamp/changed
      qos: 1
      ackTimeout: 500ms
      json:
        brightness: "{{ float(0, 1) }}"
`;

const plan = (deviceText: string, profileExtra?: string): Promise<RunPlan> => loadPlanFor(temp, deviceText, profileExtra);
const loadError = (deviceText: string, profileExtra?: string): Promise<ProfileError> => loadErrorFor(temp, deviceText, profileExtra);

describe('MQTT device models', () => {
  test('a publish task compiles to a burst with its own ack timeout and a topic-shaped name', async () => {
    const loaded = await plan(LAMP, 'iterations: 1\nbroker: mqtt://127.0.0.1:1883\n');
    const model = loaded.fleet[0]?.model;
    assert.ok(model?.mqtt);
    assert.equal(model.mqtt.protocolVersion, 5);
    assert.equal(model.mqtt.clean, true);
    const step = model.tasks[0]?.steps[0];
    assert.equal(step?.name, 'devices/+/lamp/changed');
    assert.equal(step?.repeat, 10);
    const action = step?.action as PublishAction;
    assert.equal(action.kind, 'publish');
    assert.equal(action.qos, 1);
    assert.equal(action.timeoutMs, 500);
    assert.equal(loaded.broker, 'mqtt://127.0.0.1:1883');
    // The drain waits at least as long as the longest ack or connect timeout.
    assert.ok(loaded.drainTimeoutMs >= 10_000);
  });

  test('Session Expiry Interval: 0 for a clean session, a day for a persistent one, or as set', async () => {
    const expiry = async (extra: string): Promise<number | undefined> => (await plan(LAMP.replace('  ackTimeout: 2s\n', `  ackTimeout: 2s\n${extra}`)))?.fleet[0]?.model.mqtt?.sessionExpiryS;
    assert.equal(await expiry(''), 0);
    assert.equal(await expiry('  clean: false\n'), 86_400);
    assert.equal(await expiry('  clean: false\n  sessionExpiry: 90m\n'), 5_400);
    const bad = await loadError(LAMP.replace('  ackTimeout: 2s\n', '  ackTimeout: 2s\n  sessionExpiry: soon\n'));
    assert.equal(bad.field, 'mqtt.sessionExpiry');
  });

  test('keepSessionAtEnd defaults to false and qos2Downgrade to accept; a bad qos2Downgrade points at its field', async () => {
    const session = async (extra: string) => (await plan(LAMP.replace('  ackTimeout: 2s\n', `  ackTimeout: 2s\n${extra}`)))?.fleet[0]?.model.mqtt;
    const defaults = await session('');
    assert.deepEqual([defaults?.keepSessionAtEnd, defaults?.qos2Downgrade], [false, 'accept']);
    const set = await session('  clean: false\n  keepSessionAtEnd: true\n  qos2Downgrade: fail\n');
    assert.deepEqual([set?.keepSessionAtEnd, set?.qos2Downgrade], [true, 'fail']);
    const bad = await loadError(LAMP.replace('  ackTimeout: 2s\n', '  ackTimeout: 2s\n  qos2Downgrade: ignore\n'));
    assert.equal(bad.field, 'mqtt.qos2Downgrade');
  });

  test('a sub-second keepalive and a password without a user name point at their fields', async () => {
    const keepalive = await loadError(LAMP.replace('  ackTimeout: 2s\n', '  ackTimeout: 2s\n  keepalive: 400ms\n'));
    assert.equal(keepalive.field, 'mqtt.keepalive');
    assert.match(keepalive.message, /at least 1s/);
    const password = await loadError(LAMP.replace('  ackTimeout: 2s\n', '  ackTimeout: 2s\n  password: "{{ env.LAMP_PASSWORD }}"\n'));
    assert.equal(password.field, 'mqtt.password');
    assert.match(password.message, /needs mqtt.username/);
  });

  test('a publish topic with a wildcard points at the topic', async () => {
    const error = await loadError(LAMP.replace('devices/{{ device.id }}/lamp/changed', 'devices/+/lamp'));
    assert.equal(error.field, 'tasks[0].publish.topic');
    assert.match(error.message, /cannot contain the wildcards/);
  });

  test('a step with both http and publish names the second key', async () => {
    const error = await loadError(LAMP.replace('    publish:\n', '    http: { path: /x }\n    publish:\n'));
    assert.equal(error.field, 'tasks[0].publish');
    assert.match(error.message, /a step does one thing/);
  });

  test('QoS 3 is refused at the value', async () => {
    const error = await loadError(LAMP.replace('qos: 1', 'qos: 3'));
    assert.equal(error.field, 'tasks[0].publish.qos');
    assert.equal(error.line, 10);
  });

  test('an unknown protocol version is refused', async () => {
    const error = await loadError(LAMP.replace('version: 5', 'version: 3'));
    assert.equal(error.field, 'mqtt.version');
  });

  test('reconnect min above max is refused', async () => {
    const error = await loadError(LAMP.replace('  ackTimeout: 2s\n', '  ackTimeout: 2s\n  reconnect: { min: 5s, max: 1s }\n'));
    assert.equal(error.field, 'mqtt.reconnect.min');
  });

  test('a broker URL with credentials is refused without echoing them', async () => {
    const error = await loadError(LAMP, 'iterations: 1\nbroker: mqtt://user:hunter2@127.0.0.1:1883\n');
    assert.equal(error.field, 'broker');
    assert.doesNotMatch(error.message, /hunter2/);
  });

  test('an http broker URL is refused by the schema', async () => {
    const error = await loadError(LAMP, 'iterations: 1\nbroker: http://127.0.0.1:1883\n');
    assert.equal(error.field, 'broker');
  });

  test('every-tasks and weights do not mix', async () => {
    const periodic = `kind: device
name: sensor
tasks:
  - every: 10s
    publish: { topic: t/a, payload: x }
  - every: 60s
    weight: 2
    publish: { topic: t/b, payload: y }
`;
    const error = await loadError(periodic);
    assert.equal(error.field, 'tasks[1].weight');
  });

  test('reactions subscribe with a template filter and capture from the message', async () => {
    const reacting = `kind: device
name: sensor
tasks:
  - every: 10s
    publish: { topic: "t/{{ device.id }}", payload: x }
on:
  - topic: "devices/{{ device.id }}/ota"
    capture: { job: $.job }
    steps:
      - publish: { topic: "devices/{{ device.id }}/ota/progress", json: { job: "{{ vars.job }}" } }
`;
    const model = (await plan(reacting, 'iterations: 1\n')).fleet[0]?.model;
    assert.equal(model?.reactions.length, 1);
    assert.equal(model?.reactions[0]?.captures[0]?.variable, 'job');
    assert.equal(model?.reactions[0]?.task?.name, 'on devices/+/ota');
    assert.equal(model?.tasks[0]?.everyMs, 10_000);
  });

  test('mqtt.tls with a fixed cert path that does not exist fails at load, naming the field', async () => {
    const error = await loadError(LAMP, 'iterations: 1\nbroker: mqtts://127.0.0.1:8883\nmqtt:\n  tls:\n    cert: missing.pem\n    key: missing.key\n');
    assert.equal(error.field, 'mqtt.tls.cert');
    assert.match(error.message, /cannot read missing\.pem/);
  });

  test('a templated cert path is kept for each device to resolve', async () => {
    const loaded = await plan(LAMP, 'iterations: 1\nbroker: mqtts://127.0.0.1:8883\nmqtt:\n  tls:\n    cert: "certs/{{ device.id }}.pem"\n    key: "certs/{{ device.id }}.key"\n');
    assert.equal(loaded.mqtt.tls?.cert?.source, 'certs/{{ device.id }}.pem');
  });
});
