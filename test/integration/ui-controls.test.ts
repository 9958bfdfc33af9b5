import { test } from 'node:test';
import assert from 'node:assert/strict';
import type { Results } from '../../src/metrics/results.ts';
import { runCli } from '../helpers/cli.ts';
import { useProfileFiles } from '../helpers/temp-files.ts';
import { quitUi, startUi } from '../helpers/ui.ts';

const DEVICE = `kind: device
name: ui-controls
tasks:
  - name: /data
    http: { method: POST, path: /data, json: { temperature: "{{ int(1, 40) }}" } }
wait:
  model: pacing
  interval: 200ms
`;

const PROFILE = `kind: profile
name: ui-controls
seed: 7
fleet:
  - device: ui-controls.device.yaml
    count: 10
spawnRate: 50
duration: 60s
`;

const files = useProfileFiles('ui-controls', DEVICE, PROFILE);
const JSON_TYPE = { 'content-type': 'application/json' };

interface StateReply {
  readonly status: string;
  readonly defaults: { readonly maxDevices: string; readonly devices: string };
  readonly run?: {
    readonly settings: { readonly spawnRate: number; readonly maxDevices: number };
    readonly spawnRate: number;
    readonly devices: { readonly online: number; readonly target: number; readonly ceiling: number };
    readonly table: { readonly total: { readonly requests: number } };
    readonly history: readonly unknown[];
    readonly resetAtS?: number;
  };
}

async function post(base: string, path: string, body: unknown): Promise<{ status: number; body: string }> {
  const response = await fetch(`${base}${path}`, { method: 'POST', headers: JSON_TYPE, body: JSON.stringify(body) });
  return { status: response.status, body: await response.text() };
}

async function state(base: string): Promise<StateReply> {
  return (await (await fetch(`${base}/api/state`)).json()) as StateReply;
}

/** Polls GET /api/state, as a script would, until `condition` holds; fails naming `what` at the deadline. */
async function stateWhen(base: string, what: string, condition: (reply: StateReply) => boolean, deadlineMs = 20_000): Promise<StateReply> {
  const deadline = Date.now() + deadlineMs;
  for (;;) {
    const reply = await state(base);
    if (condition(reply)) return reply;
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}: ${JSON.stringify(reply.run?.devices ?? reply.status)}`);
    await new Promise((resolve) => setTimeout(resolve, 100));
  }
}

test("run --ui -u 2: the page can raise the fleet past -u, up to the profile's 10 devices", { timeout: 60_000 }, async () => {
  const ui = await startUi(['run', files.profile, '--ui', '-u', '2', '--quiet']);
  try {
    const first = await stateWhen(ui.base, 'the 2 devices of -u online', (reply) => reply.run?.devices.online === 2);
    assert.equal(first.defaults.devices, '2', '-u sets the count the run starts with');
    assert.equal(first.defaults.maxDevices, '10', "the ceiling is the profile's fleet");
    assert.equal(first.run?.devices.ceiling, 10);
    assert.equal((await post(ui.base, '/api/devices', { devices: 11 })).status, 400, 'above the ceiling');
    const raised = await post(ui.base, '/api/devices', { devices: 8 });
    assert.equal(raised.status, 200, raised.body);
    await stateWhen(ui.base, '8 devices online', (reply) => reply.run?.devices.online === 8);
  } finally {
    const exit = await quitUi(ui);
    assert.equal(exit.code, 130, `Ctrl-C interrupts the run going, as run's: ${exit.stderr}`);
  }
});

test('--max-devices sets the ceiling; it is refused below -u and without --ui', { timeout: 60_000 }, async () => {
  const below = await runCli(['run', files.profile, '--ui', '-u', '5', '--max-devices', '3', '--ui-port', '0']);
  assert.equal(below.code, 2);
  assert.match(below.stderr, /--max-devices: 3 is below the 5 devices asked for/);
  const alone = await runCli(['run', files.profile, '--max-devices', '30']);
  assert.equal(alone.code, 2);
  assert.match(alone.stderr, /--max-devices: only with --ui/);

  const ui = await startUi(['run', files.profile, '--ui', '-u', '2', '--max-devices', '30', '--quiet']);
  try {
    const first = await stateWhen(ui.base, 'the run', (reply) => reply.run?.devices.online === 2);
    assert.equal(first.defaults.maxDevices, '30');
    assert.equal(first.run?.devices.ceiling, 30, 'the fleet is sized to the ceiling');
    const raised = await post(ui.base, '/api/devices', { devices: 25 });
    assert.equal(raised.status, 200, raised.body);
    await stateWhen(ui.base, '25 devices online', (reply) => reply.run?.devices.online === 25);
    assert.equal((await post(ui.base, '/api/stop', {})).status, 200);
    await stateWhen(ui.base, 'the finished run', (reply) => reply.status === 'finished');
    const results = (await (await fetch(`${ui.base}/api/download/results.json`)).json()) as Results;
    assert.equal(results.devices.target, 25, 'the highest count asked for');
  } finally {
    await quitUi(ui);
  }
});

test('/api/devices takes a spawn rate: the next change of count ramps at it', { timeout: 60_000 }, async () => {
  const ui = await startUi(['ui', files.profile, '--quiet']);
  try {
    const started = await post(ui.base, '/api/start', { devices: 2, spawnRate: 200, maxDevices: 10, duration: '' });
    assert.equal(started.status, 201, started.body);
    await stateWhen(ui.base, '2 devices online', (reply) => reply.run?.devices.online === 2);
    assert.equal((await post(ui.base, '/api/devices', { spawnRate: 0 })).status, 400, 'a rate of 0');
    assert.match((await post(ui.base, '/api/devices', { spawnRate: 'fast' })).body, /spawnRate: expected/);
    const slowed = await post(ui.base, '/api/devices', { spawnRate: 0.5 });
    assert.equal(slowed.status, 200, slowed.body);
    assert.equal((JSON.parse(slowed.body) as StateReply).run?.spawnRate, 0.5, 'the state carries the rate now');
    // From 2 to 10 at 0.5/s takes 16 s: a device every 2 s.
    assert.equal((await post(ui.base, '/api/devices', { devices: 10 })).status, 200);
    const ramping = await stateWhen(ui.base, 'the first device of the slow ramp', (reply) => (reply.run?.devices.online ?? 0) >= 3);
    assert.ok((ramping.run?.devices.online ?? 0) < 10, `paced at 0.5/s, not at the start's 200/s: ${ramping.run?.devices.online}`);
    const sped = await post(ui.base, '/api/devices', { devices: 10, spawnRate: 200 });
    assert.equal(sped.status, 200, sped.body);
    await stateWhen(ui.base, 'the rest at 200/s', (reply) => reply.run?.devices.online === 10, 8_000);
  } finally {
    await quitUi(ui);
  }
});

test('/api/reset: the statistics start again while the run goes on; the results say from when', { timeout: 60_000 }, async () => {
  const ui = await startUi(['ui', files.profile, '--quiet']);
  try {
    assert.equal((await post(ui.base, '/api/reset', {})).status, 409, 'no run to reset');
    const started = await post(ui.base, '/api/start', { devices: 4, spawnRate: 200, maxDevices: 4, duration: '' });
    assert.equal(started.status, 201, started.body);
    const before = await stateWhen(ui.base, 'two intervals with requests', (reply) => (reply.run?.history.length ?? 0) >= 2 && (reply.run?.table.total.requests ?? 0) > 20);
    const counted = before.run?.table.total.requests ?? 0;
    const reset = await post(ui.base, '/api/reset', {});
    assert.equal(reset.status, 200, reset.body);
    const after = JSON.parse(reset.body) as StateReply;
    assert.equal(after.status, 'running', 'the run goes on');
    assert.ok(after.run?.resetAtS !== undefined && after.run.resetAtS > 0, `the state says when: ${String(after.run?.resetAtS)}`);
    assert.equal(after.run?.history.length, 0, 'the history starts again');
    assert.ok((after.run?.table.total.requests ?? 0) < counted, `${after.run?.table.total.requests} counted since the reset, of ${counted} before`);
    await stateWhen(ui.base, 'requests counted again', (reply) => (reply.run?.history.length ?? 0) >= 2 && (reply.run?.table.total.requests ?? 0) > 0);
    assert.equal((await post(ui.base, '/api/stop', {})).status, 200);
    await stateWhen(ui.base, 'the finished run', (reply) => reply.status === 'finished');
    const results = (await (await fetch(`${ui.base}/api/download/results.json`)).json()) as Results;
    const resetAtS = after.run?.resetAtS ?? 0;
    assert.ok(
      results.warnings.some((warning) => warning.includes(`statistics were reset from the UI at ${resetAtS}s`)),
      results.warnings.join(' | '),
    );
    assert.ok(results.activeS < results.durationS - resetAtS + 1, `rates over the time since the reset: activeS ${results.activeS}, durationS ${results.durationS}`);
    assert.ok(
      results.history.every((point) => point.atS > resetAtS),
      'the history begins after the reset',
    );
    const recorded = results.history.reduce((sum, point) => sum + point.total.requests, 0);
    assert.equal(results.total.requests, recorded, 'the rows and the history cover the same attempts');
    const last = (await (await fetch(`${ui.base}/api/state`)).json()) as { last: { summary: { resetAtS?: number } } };
    assert.equal(last.last.summary.resetAtS, resetAtS, "the finished run's summary says when");
  } finally {
    await quitUi(ui);
  }
});
