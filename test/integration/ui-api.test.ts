import { test } from 'node:test';
import assert from 'node:assert/strict';
import { request } from 'node:http';
import type { Results } from '../../src/metrics/results.ts';
import { pollUntil } from '../helpers/poll.ts';
import { useProfileFiles } from '../helpers/temp-files.ts';
import { quitUi, startUi } from '../helpers/ui.ts';

const DEVICE = `kind: device
name: ui-api
tasks:
  - name: /data
    http: { method: POST, path: /data, json: { temperature: "{{ int(1, 40) }}", humidity: "{{ int(1, 99) }}" } }
wait:
  model: pacing
  interval: 200ms
`;

const PROFILE = `kind: profile
name: ui-api
seed: 5
fleet:
  - device: ui-api.device.yaml
    count: 10
spawnRate: 20
duration: 60s
`;

const files = useProfileFiles('ui-api', DEVICE, PROFILE);

interface Reply {
  readonly status: number;
  readonly body: string;
}

/** A raw request, so the test sets exactly the headers a browser or a script would (Host and Origin included). */
function call(base: string, method: string, path: string, headers: Record<string, string> = {}, body?: string): Promise<Reply> {
  return new Promise((resolve, reject) => {
    const req = request(`${base}${path}`, { method, headers }, (res) => {
      let text = '';
      res.setEncoding('utf8').on('data', (chunk: string) => (text += chunk));
      res.on('end', () => resolve({ status: res.statusCode ?? 0, body: text }));
    });
    req.on('error', reject);
    req.end(body);
  });
}

const JSON_TYPE = { 'content-type': 'application/json' };

interface StateReply {
  readonly status: string;
  readonly run?: { readonly devices: { readonly online: number; readonly target: number } };
}

/** Polls GET /api/state, as a script would, until `condition` holds; the last state at the deadline. */
async function stateWhen(base: string, condition: (state: StateReply) => boolean, deadlineMs: number): Promise<StateReply> {
  const deadline = Date.now() + deadlineMs;
  for (;;) {
    const state = JSON.parse((await call(base, 'GET', '/api/state')).body) as StateReply;
    if (condition(state) || Date.now() > deadline) return state;
    await new Promise((resolve) => setTimeout(resolve, 100));
  }
}

test('--ui-host 0.0.0.0: a token is generated, and nothing is served or changed without it', { timeout: 60_000 }, async () => {
  const ui = await startUi(['ui', files.profile, '--ui-host', '0.0.0.0', '--quiet']);
  try {
    assert.ok(ui.token && ui.token.length >= 20, `a generated token in the printed URL: ${ui.cli.stderrSoFar()}`);
    const auth = { 'x-fleetsim-token': ui.token };
    assert.equal((await call(ui.base, 'GET', '/')).status, 401, 'the page needs the token');
    assert.equal((await call(ui.base, 'GET', '/api/state')).status, 401);
    assert.equal((await call(ui.base, 'GET', '/api/events')).status, 401);
    assert.equal((await call(ui.base, 'GET', '/api/download/stats.csv')).status, 401);
    assert.equal((await call(ui.base, 'POST', '/api/start', JSON_TYPE, '{"devices":2}')).status, 401, 'a start without the token');
    assert.equal((await call(ui.base, 'GET', '/api/state', { 'x-fleetsim-token': `${ui.token}x` })).status, 401, 'a wrong token');
    assert.equal((await call(ui.base, 'GET', `/?token=${ui.token}`)).status, 200, 'the printed URL opens the page');
    assert.equal((await call(ui.base, 'GET', '/api/state', { authorization: `Bearer ${ui.token}` })).status, 200);

    // A cross-site form can post text/plain or a urlencoded body, never application/json.
    const form = await call(ui.base, 'POST', '/api/start', { ...auth, 'content-type': 'application/x-www-form-urlencoded' }, 'devices=2');
    assert.equal(form.status, 415, form.body);
    const plain = await call(ui.base, 'POST', '/api/start', { ...auth, 'content-type': 'text/plain' }, '{"devices":2}');
    assert.equal(plain.status, 415, plain.body);
    const foreign = await call(ui.base, 'POST', '/api/start', { ...auth, ...JSON_TYPE, origin: 'http://evil.example' }, '{"devices":2}');
    assert.equal(foreign.status, 403, foreign.body);
    const crossSiteForm = await call(ui.base, 'POST', '/api/stop', { ...auth, 'content-type': 'text/plain', origin: 'http://evil.example', 'sec-fetch-site': 'cross-site' }, '{}');
    assert.equal(crossSiteForm.status, 403, 'a cross-origin POST without JSON, even with the token');
    const state = JSON.parse((await call(ui.base, 'GET', '/api/state', auth)).body) as { status: string };
    assert.equal(state.status, 'idle', 'none of the refused requests started a run');
  } finally {
    const exit = await quitUi(ui);
    assert.equal(exit.code, 0, exit.stderr);
  }
});

test('on loopback: a foreign Host (DNS rebinding) is refused; the API starts, steers, refuses and stops a run', { timeout: 60_000 }, async () => {
  const log = files.temp.file('requests.ndjson');
  const ui = await startUi(['ui', files.profile, '--quiet', '--log-requests', log]);
  try {
    assert.equal(ui.token, undefined, 'no token on loopback');
    assert.equal((await call(ui.base, 'GET', '/api/state', { host: 'rebound.example:8089' })).status, 403);
    assert.equal((await call(ui.base, 'GET', '/api/state')).status, 200);
    const bad = await call(ui.base, 'POST', '/api/start', JSON_TYPE, '{"devices":"many"}');
    assert.equal(bad.status, 400);
    assert.match(bad.body, /devices: expected a whole number/);
    const over = await call(ui.base, 'POST', '/api/start', JSON_TYPE, '{"devices":5,"maxDevices":3}');
    assert.match(over.body, /maxDevices: 3 is below the 5 devices/);
    const started = await call(ui.base, 'POST', '/api/start', JSON_TYPE, '{"devices":2,"spawnRate":50,"maxDevices":6,"duration":""}');
    assert.equal(started.status, 201, started.body);
    assert.equal((await call(ui.base, 'POST', '/api/start', JSON_TYPE, '{}')).status, 409, 'one run at a time');
    assert.equal((await call(ui.base, 'POST', '/api/devices', JSON_TYPE, '{"devices":7}')).status, 400, 'above the ceiling');
    const raised = await call(ui.base, 'POST', '/api/devices', JSON_TYPE, '{"devices":6}');
    assert.equal(raised.status, 200, raised.body);
    const grown = await stateWhen(ui.base, (state) => state.run?.devices.online === 6, 20_000);
    assert.equal(grown.run?.devices.online, 6, 'the fleet grew to the count set');
    assert.equal(grown.run?.devices.target, 6);
    assert.equal((await call(ui.base, 'POST', '/api/stop', JSON_TYPE, '{}')).status, 200);
    assert.equal((await stateWhen(ui.base, (state) => state.status === 'finished', 20_000)).status, 'finished');
    const results = JSON.parse((await call(ui.base, 'GET', '/api/download/results.json')).body) as Results;
    assert.equal(results.stopReason, 'requested');
    assert.equal(results.devices.target, 6, 'the highest count asked for');
    assert.ok(results.total.requests > 0);
    const csv = await call(ui.base, 'GET', '/api/download/stats.csv');
    assert.match(csv.body, /^Type,Name,Request Count,/);
    const lines = (await call(ui.base, 'GET', '/api/download/requests.ndjson')).body.trim().split('\n');
    assert.equal(lines.length, results.total.requests, 'the request log: one line per attempt');

    // Another run, with other settings, in the same process.
    const again = await call(ui.base, 'POST', '/api/start', JSON_TYPE, '{"devices":3,"spawnRate":50,"maxDevices":3,"duration":"2s"}');
    assert.equal(again.status, 201, again.body);
    const second = await stateWhen(ui.base, (state) => state.status === 'finished', 30_000);
    assert.equal(second.status, 'finished');
    const secondResults = JSON.parse((await call(ui.base, 'GET', '/api/download/results.json')).body) as Results;
    assert.equal(secondResults.stopReason, 'duration');
    assert.equal(secondResults.devices.target, 3);
    assert.notEqual(secondResults.startedAt, results.startedAt, "the downloads are the last run's");
  } finally {
    const exit = await quitUi(ui);
    assert.equal(exit.code, 0, exit.stderr);
  }
});

test('the live feed: an interval pushed about every second while a staged run goes, then the final results', { timeout: 60_000 }, async () => {
  const ui = await startUi(['ui', files.profile, '--quiet']);
  try {
    const arrivals: number[] = [];
    const events: string[] = [];
    let done: { table: { total: { requests: number } } } | undefined;
    const feed = request(`${ui.base}/api/events`);
    feed.on('response', (res) => {
      let buffer = '';
      res.setEncoding('utf8').on('data', (chunk: string) => {
        buffer += chunk;
        let end;
        while ((end = buffer.indexOf('\n\n')) >= 0) {
          const message = buffer.slice(0, end);
          buffer = buffer.slice(end + 2);
          const event = /^event: (.+)$/m.exec(message)?.[1];
          const data = /^data: (.+)$/m.exec(message)?.[1];
          if (!event) continue;
          events.push(event);
          if (event === 'interval') arrivals.push(Date.now());
          if (event === 'done' && data) done = JSON.parse(data) as typeof done;
        }
      });
    });
    feed.end();
    await pollUntil('the first state message', () => events.includes('state'), 10_000);
    const started = await call(ui.base, 'POST', '/api/start', JSON_TYPE, '{"stages":"2s:2, 4s:4","spawnRate":40}');
    assert.equal(started.status, 201, started.body);
    await pollUntil('the finished run', () => done !== undefined, 40_000);
    feed.destroy();
    assert.ok(arrivals.length >= 5, `about one interval a second over 6 s, got ${arrivals.length}`);
    const gaps = arrivals.slice(1).map((at, i) => at - (arrivals[i] ?? at));
    assert.ok(Math.max(...gaps) <= 2_000, `every gap within 2 s: ${gaps.join(', ')} ms`);
    const results = JSON.parse((await call(ui.base, 'GET', '/api/download/results.json')).body) as Results;
    assert.equal(done?.table.total.requests, results.total.requests, "the final message carries the results' numbers");
    assert.equal(results.stopReason, 'duration', "the stages' 6 s ended it");
    assert.equal(results.devices.target, 4, 'the highest stage');
    assert.equal(Math.max(...results.history.map((point) => point.devicesTarget)), 4);
  } finally {
    await quitUi(ui);
  }
});

test('capacity --ui: each step as it completes, the knee marked, the search not steerable from the page', { timeout: 60_000 }, async () => {
  // 200 ms pacing: 1 device sends about 5 req/s (passes 'rps < 12'), 4 devices about 20 (the knee).
  const args = ['capacity', files.profile, '--slo', 'rps < 12', '--start', '1', '--step', '3', '--max-devices', '7', '--step-duration', '2s', '--settle', '1s', '--quiet', '--ui'];
  const ui = await startUi(args);
  let exit: Awaited<ReturnType<typeof quitUi>>;
  try {
    const running = JSON.parse((await call(ui.base, 'GET', '/api/state')).body) as { mode: string };
    assert.equal(running.mode, 'capacity');
    assert.equal((await call(ui.base, 'POST', '/api/start', JSON_TYPE, '{}')).status, 409, 'no other run starts');
    assert.equal((await call(ui.base, 'POST', '/api/devices', JSON_TYPE, '{"devices":3}')).status, 409, 'the search sets the count');
    interface CapacityState extends StateReply {
      readonly capacity: { readonly steps: readonly { devices: number; ok: boolean; repeat?: string }[]; readonly verdict?: string; readonly limitedBy?: string };
    }
    const first = await stateWhen(ui.base, (state) => (state as CapacityState).capacity.steps.length >= 1, 30_000);
    assert.equal((first as CapacityState).capacity.steps[0]?.devices, 1, 'the first step is pushed as soon as it is judged');
    const done = (await stateWhen(ui.base, (state) => state.status === 'finished', 40_000)) as CapacityState;
    // A step the machine starved is measured again (`repeat: 'retry'`) before it counts as the knee.
    assert.deepEqual(
      done.capacity.steps.filter((step) => step.repeat !== 'retry').map((step) => [step.devices, step.ok]),
      [
        [1, true],
        [4, false],
      ],
    );
    for (const retry of done.capacity.steps.filter((step) => step.repeat === 'retry')) assert.deepEqual([retry.devices, retry.ok], [4, false], 'only the failing step is retried');
    // On a loaded machine the generator's own saturation may be what the search names: either way a knee.
    assert.ok(['target', 'generator'].includes(done.capacity.limitedBy ?? ''), done.capacity.limitedBy);
    assert.match(done.capacity.verdict ?? '', /Capacity: 1 device,/);
    const report = await call(ui.base, 'GET', '/api/download/report.html');
    assert.match(report.body, /FAIL \(knee\)/, 'the HTML report marks the knee');
  } finally {
    exit = await quitUi(ui);
  }
  assert.equal(exit.code, 0, exit.stderr);
});
