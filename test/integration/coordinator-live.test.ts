import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFile } from 'node:fs/promises';
import type { CoordinatedResults } from '../../src/distributed/coordinated-merge.ts';
import { ownedBelow } from '../../src/engine/fleet/shard.ts';
import { startCli } from '../helpers/cli.ts';
import type { CliRun } from '../helpers/cli.ts';
import { useHttpFixture } from '../helpers/http-fixture-suite.ts';
import { setTimeout as delay } from 'node:timers/promises';
import { parseExposition, sampleOf } from '../helpers/prometheus-text.ts';

const suite = useHttpFixture();
const TOKEN = 'test-token-live-0123456789';

/** A device that posts every 250 ms: enough traffic to count, little CPU. */
const DEVICE = `kind: device
name: ticker
identity:
  scheme: hex48
tasks:
  - name: /data
    http:
      method: POST
      path: /data
      json:
        temperature: "{{ int(1, 40) }}"
        humidity: "{{ int(0, 100) }}"
wait:
  model: pacing
  interval: 250ms
`;

async function profile(name: string, devices: number, duration: string): Promise<string> {
  const device = await suite.temp.write(`${name}-device.yaml`, DEVICE);
  return suite.temp.write(`${name}.yaml`, `kind: profile\nname: ${name}\nseed: 3\nfleet:\n  - device: ${device}\n    count: ${devices}\nspawnRate: 1000\nduration: ${duration}\ndrainTimeout: 2s\n`);
}

interface Scrape {
  readonly requests: Map<string, number>;
  readonly total: number;
  readonly online: number;
  readonly target: number;
}

async function scrape(url: string): Promise<Scrape> {
  const response = await fetch(url);
  assert.equal(response.status, 200);
  const families = parseExposition(await response.text());
  const requests = new Map<string, number>();
  for (const sample of families.get('fleetsim_requests_total')?.samples ?? []) {
    const key = `${sample.labels.type ?? ''} ${sample.labels.name ?? ''}`;
    requests.set(key, (requests.get(key) ?? 0) + sample.value);
  }
  return {
    requests,
    total: [...requests.values()].reduce((sum, n) => sum + n, 0),
    online: sampleOf(families, 'fleetsim_devices_online').value,
    target: sampleOf(families, 'fleetsim_devices_target').value,
  };
}

interface WorkerView {
  readonly index: number;
  readonly state: string;
  readonly lost?: string;
  readonly online: number;
  readonly goal: number;
}

interface FleetState {
  readonly mode: string;
  readonly status: string;
  readonly fleet: { readonly expected: number; readonly joined: number; readonly workers: readonly WorkerView[] };
  readonly run?: { readonly devices: { readonly online: number; readonly target: number; readonly ceiling: number }; readonly history: readonly unknown[] };
}

async function state(ui: string): Promise<FleetState> {
  return (await (await fetch(`${ui}api/state`)).json()) as FleetState;
}

/** The page's devices control: the same request the page's script sends. */
function setDevices(ui: string, devices: number): Promise<Response> {
  return fetch(`${ui}api/devices`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ devices }) });
}

async function endpoints(coordinator: CliRun): Promise<{ metrics: string; ui: string }> {
  await coordinator.waitForStderr(/fleetsim UI at http:\/\/\S+/);
  const text = coordinator.stderrSoFar();
  return { metrics: /Prometheus metrics at (http:\/\/\S+)/.exec(text)?.[1] ?? '', ui: /fleetsim UI at (http:\/\/\S+)/.exec(text)?.[1] ?? '' };
}

test('coordinate --local with 3 workers: /metrics sums the fleet, the page sets its device count, each worker runs its share', { timeout: 90_000 }, async () => {
  const file = await profile('live', 12, '7s');
  const json = suite.temp.file('live.json');
  const before = suite.server.counts['POST /data']?.requests ?? 0;
  const coordinator = startCli(
    [
      'coordinate',
      file,
      '--target',
      suite.url,
      '--workers',
      '3',
      '--local',
      '--listen',
      '127.0.0.1:0',
      '--token',
      TOKEN,
      '--metrics-port',
      '0',
      '--ui',
      '--ui-port',
      '0',
      '--linger',
      '60s',
      '--json',
      json,
    ],
    80_000,
  );
  try {
    const { metrics, ui } = await endpoints(coordinator);
    const waiting = await state(ui);
    assert.equal(waiting.mode, 'fleet');
    assert.equal((await setDevices(ui, 5)).status, 409, 'no change of count before the fleet has started');
    await coordinator.waitForStderr('All 3 workers ready');

    // During the run: the whole fleet online, and its attempts counted as they stream in.
    let during: Scrape | undefined;
    const deadline = Date.now() + 20_000;
    while (!(during && during.online === 12 && during.total > 0)) {
      assert.ok(Date.now() < deadline, `the fleet never showed 12 devices online with attempts: ${JSON.stringify(during)}`);
      during = await scrape(metrics).finally(() => delay(50));
    }
    assert.equal(during.target, 12);

    // The page's devices control: 12 → 5, split as --shard splits it (2, 2, 1).
    const changed = await setDevices(ui, 5);
    assert.equal(changed.status, 200, await changed.clone().text());
    const tooMany = await setDevices(ui, 13);
    assert.equal(tooMany.status, 400);
    assert.match(((await tooMany.json()) as { error: string }).error, /devices: expected a whole number from 0 to 12 \(the fleet's size\), got 13/);
    let after: Scrape | undefined;
    while (!(after && after.online === 5 && after.target === 5)) {
      assert.ok(Date.now() < deadline + 10_000, `the fleet never came down to 5 devices: ${JSON.stringify(after)}`);
      after = await scrape(metrics).finally(() => delay(50));
    }
    const shares = [0, 1, 2].map((index) => ownedBelow(5, { index, count: 3 }));
    assert.deepEqual(shares, [2, 2, 1]);
    let fleet = await state(ui);
    while (!fleet.fleet.workers.every((worker) => worker.online === shares[worker.index])) {
      assert.ok(Date.now() < deadline + 10_000, `the workers never ran their shares: ${JSON.stringify(fleet.fleet)}`);
      fleet = await state(ui).finally(() => delay(50));
    }
    assert.deepEqual(
      fleet.fleet.workers.map((worker) => [worker.index, worker.state, worker.online, worker.goal]),
      shares.map((share, index) => [index, 'running', share, share]),
    );
    assert.deepEqual(fleet.run?.devices.online, 5);

    // After the run, while it lingers: the counters are the merged results' own, and the server's.
    await coordinator.waitForStderr('Serving the results at', 40_000);
    const results = JSON.parse(await readFile(json, 'utf8')) as CoordinatedResults;
    const final = await scrape(metrics);
    assert.ok(final.total >= during.total);
    assert.equal(final.total, results.total.requests);
    assert.equal(results.total.failures, 0);
    assert.deepEqual(Object.fromEntries(final.requests), Object.fromEntries(results.stats.map((row) => [`${row.type} ${row.name}`, row.requests])));
    assert.equal(results.total.requests, (suite.server.counts['POST /data']?.requests ?? 0) - before);
    assert.deepEqual(results.coordinator.lost, []);
    // The merged history shows the fleet at 12 and then at 5.
    assert.ok(results.history.some((point) => point.devicesOnline === 12));
    const late = results.history.filter((point) => point.devicesTarget === 5);
    assert.ok(late.length > 0 && late.every((point) => point.devicesOnline <= 5), JSON.stringify(results.history.map((point) => [point.devicesOnline, point.devicesTarget])));
    const page = await state(ui);
    assert.equal(page.status, 'finished');
  } finally {
    coordinator.child.kill('SIGINT');
  }
  const done = await coordinator.done;
  assert.equal(done.code, 0, done.stderr);
});

test('a lost worker is named on the page, and the count is then split over the live one only', { timeout: 90_000 }, async () => {
  const file = await profile('lost', 10, '10s');
  const json = suite.temp.file('lost.json');
  const coordinator = startCli(
    [
      'coordinate',
      file,
      '--target',
      suite.url,
      '--workers',
      '2',
      '--listen',
      '127.0.0.1:0',
      '--token',
      TOKEN,
      '--lost-after',
      '2s',
      '--metrics-port',
      '0',
      '--ui',
      '--ui-port',
      '0',
      '--linger',
      '60s',
      '--json',
      json,
    ],
    80_000,
  );
  const { metrics, ui } = await endpoints(coordinator);
  await coordinator.waitForStderr(/listening on (http:\/\/[^\s]+)\./);
  const url = /listening on (http:\/\/[^\s]+)\./.exec(coordinator.stderrSoFar())?.[1] ?? '';
  const workers = [0, 1].map(() => startCli(['worker', '--join', url, '--token', TOKEN], 80_000));
  try {
    await Promise.all(workers.map((worker) => worker.waitForStderr(/Joined .* as worker \d of 2/)));
    const deadline = Date.now() + 30_000;
    let seen: Scrape | undefined;
    while (!(seen && seen.online === 10)) {
      assert.ok(Date.now() < deadline, `the fleet never showed 10 devices online: ${JSON.stringify(seen)}`);
      seen = await scrape(metrics).finally(() => delay(50));
    }
    const victim = workers.find((worker) => /as worker 1 of 2/.test(worker.stderrSoFar()));
    assert.ok(victim);
    victim.child.kill('SIGKILL');
    let page = await state(ui);
    while (page.fleet.workers[1]?.state !== 'lost') {
      assert.ok(Date.now() < deadline + 10_000, 'worker 1 was never shown lost');
      page = await state(ui).finally(() => delay(50));
    }
    assert.match(page.fleet.workers[1]?.lost ?? '', /silent for/);
    // Worker 0 alone runs its stripe of the fleet (indices 0, 2, 4, 6, 8): at most 5.
    assert.equal(page.run?.devices.ceiling, 5);
    const refused = await setDevices(ui, 6);
    assert.equal(refused.status, 400);
    assert.match(((await refused.json()) as { error: string }).error, /from 0 to 5 \(what the 1 live workers of 2 can run of the fleet's 10\)/);
    assert.equal((await setDevices(ui, 3)).status, 200);
    let after: Scrape | undefined;
    while (!(after && after.online === 3 && after.target === 3)) {
      assert.ok(Date.now() < deadline + 20_000, `the live worker never came down to 3: ${JSON.stringify(after)}`);
      after = await scrape(metrics).finally(() => delay(50));
    }
    const survivor = workers.find((worker) => worker !== victim);
    await survivor?.waitForStderr("The coordinator set the fleet's devices: this worker heads for 3");
    // After the run: the counters keep the lost worker's attempts until it died (as the history
    // does; the results' rows count the finished workers only), so none went down.
    await coordinator.waitForStderr('Serving the results at', 40_000);
    const results = JSON.parse(await readFile(json, 'utf8')) as CoordinatedResults;
    const final = await scrape(metrics);
    assert.ok(final.total >= (after?.total ?? 0));
    assert.equal(
      final.total,
      results.history.reduce((sum, point) => sum + point.total.requests, 0),
    );
    assert.ok(final.total > results.total.requests, `${final.total} counted, ${results.total.requests} in the finished workers' rows`);
    coordinator.child.kill('SIGINT');
    // The fleet was incomplete.
    const done = await coordinator.done;
    assert.equal(done.code, 97, done.stderr);
    assert.equal((await survivor?.done)?.code, 0);
  } catch (error) {
    for (const worker of workers) worker.child.kill('SIGKILL');
    coordinator.child.kill('SIGKILL');
    throw error;
  }
});

test('run --workers 2 serves the same live views: /metrics of the whole fleet and its page', { timeout: 60_000 }, async () => {
  const file = await profile('workers-live', 4, '5s');
  const json = suite.temp.file('workers-live.json');
  const run = startCli(['run', file, '--target', suite.url, '--workers', '2', '--metrics-port', '0', '--ui', '--ui-port', '0', '--json', json], 50_000);
  const { metrics, ui } = await endpoints(run);
  assert.equal((await state(ui)).mode, 'fleet');
  let during: Scrape | undefined;
  const deadline = Date.now() + 20_000;
  while (!(during && during.online === 4 && during.total > 0)) {
    assert.ok(Date.now() < deadline, `the fleet never showed 4 devices online with attempts: ${JSON.stringify(during)}`);
    during = await scrape(metrics).finally(() => delay(50));
  }
  assert.equal(during.target, 4);
  const end = await run.done;
  assert.equal(end.code, 0, end.stderr);
  const results = JSON.parse(await readFile(json, 'utf8')) as CoordinatedResults;
  assert.ok(results.total.requests >= during.total);
  assert.deepEqual(
    results.coordinator.workers.map((worker) => worker.state),
    ['finished', 'finished'],
  );
});
