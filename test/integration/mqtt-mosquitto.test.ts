import assert from 'node:assert/strict';
import { readFile } from 'node:fs/promises';
import { after, before, describe, test } from 'node:test';
import type { Results } from '../../src/metrics/results.ts';
import { runExitCode } from '../../src/run/run-environment.ts';
import { runCli, startCli } from '../helpers/cli.ts';
import { mosquittoSkip, startMosquitto } from '../helpers/mosquitto.ts';
import { TempDir } from '../helpers/temp-files.ts';

const skip = mosquittoSkip();

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
  readonly outcome: string;
  readonly latencyMs: number;
  readonly intendedAtMs: number;
}

async function readLog(file: string): Promise<LogLine[]> {
  return (await readFile(file, 'utf8'))
    .trim()
    .split('\n')
    .map((line) => JSON.parse(line) as LogLine);
}

const row = (results: Results, type: string) => {
  const found = results.stats.find((stat) => stat.type === type);
  assert.ok(found, `no ${type} row`);
  return found;
};

describe('lamps against a real Mosquitto', { skip }, () => {
  test('200 lamps for 15 s: no failures, acked ≤ broker received ≤ attempted, CONNECT timed per device', { timeout: 120_000 }, async () => {
    const broker = await startMosquitto();
    try {
      const json = temp.file('lamp.json');
      const log = temp.file('lamp.ndjson');
      const result = await runCli(['run', 'profiles/lamp.yaml', '-u', '200', '-t', '15s', '--broker', broker.url, '--json', json, '--log-requests', log, '--quiet'], 90_000);
      assert.equal(result.code, 0, result.stderr);
      const results = JSON.parse(await readFile(json, 'utf8')) as Results;
      const publish = row(results, 'PUBLISH');
      assert.equal(results.total.failures, 0, JSON.stringify(results.failures));
      // 200 lamps, a burst of 10 every 1-2 s: about 1,300 publishes/s once all are up.
      assert.ok(publish.requests > 10_000, `${publish.requests} publishes`);
      const received = await broker.publishesReceived();
      const acked = publish.requests - publish.failures;
      assert.ok(acked <= received && received <= publish.requests, `acked ${acked}, broker received ${received}, attempted ${publish.requests}`);
      const connects = (await readLog(log)).filter((line) => line.type === 'CONNECT');
      assert.equal(connects.length, 200);
      assert.equal(new Set(connects.map((line) => line.device)).size, 200, 'one CONNECT per device');
      assert.ok(connects.every((line) => line.outcome === 'ok' && line.latencyMs > 0));
      assert.equal(row(results, 'CONNECT').requests, 200);
      assert.equal(results.devices.online, 200);
      assert.doesNotMatch(result.stdout, /Nagle/);
    } finally {
      await broker.stop();
    }
  });

  test('MQTT 5 lamps against Mosquitto: every publish acked, and the broker received each one', { timeout: 60_000 }, async () => {
    const broker = await startMosquitto();
    try {
      const device = (await readFile('devices/lamp.yaml', 'utf8')).replace('version: "3.1.1"', 'version: "5"');
      await temp.write('lamp5.device.yaml', device);
      const profile = await temp.write('lamp5.yaml', 'kind: profile\nseed: 9\nfleet:\n  - device: lamp5.device.yaml\n    count: 20\nspawnRate: 100\n');
      const json = temp.file('lamp5.json');
      const result = await runCli(['run', profile, '--broker', broker.url, '--iterations', '3', '--json', json, '--quiet'], 40_000);
      assert.equal(result.code, 0, result.stderr);
      const results = JSON.parse(await readFile(json, 'utf8')) as Results;
      assert.equal(results.total.failures, 0);
      assert.equal(row(results, 'PUBLISH').requests, 20 * 3 * 10);
      assert.equal(await broker.publishesReceived(), 20 * 3 * 10);
    } finally {
      await broker.stop();
    }
  });

  test("Mosquitto's default set_tcp_nodelay false: the run says its latencies show Nagle's signature", { timeout: 60_000 }, async () => {
    const broker = await startMosquitto({ nodelay: false });
    try {
      const result = await runCli(['run', 'profiles/lamp-flat-out.yaml', '-u', '20', '-t', '3s', '--broker', broker.url, '--quiet'], 40_000);
      assert.equal(result.code, 0, result.stderr);
      assert.match(result.stdout, /Warning: PUBLISH latencies cluster at about 40 ms: lamp\/changed \(median 4\d(\.\d+)? ms\)\. That is the signature of Nagle's algorithm/);
    } finally {
      await broker.stop();
    }
  });

  test('Mosquitto killed and restarted mid-run: devices reconnect with backoff, the run finishes, counts stay consistent', { timeout: 120_000 }, async () => {
    const broker = await startMosquitto();
    try {
      const json = temp.file('restart.json');
      const log = temp.file('restart.ndjson');
      const run = startCli(['run', 'profiles/lamp.yaml', '-u', '50', '-r', '50', '-t', '12s', '--broker', broker.url, '--json', json, '--log-requests', log], 90_000);
      await run.waitForStderr(/\[2s\S*\] devices 50\/50/);
      await broker.kill();
      await run.waitForStderr(/devices 0\/50/);
      await broker.restart();
      const result = await run.done;
      const results = JSON.parse(await readFile(json, 'utf8')) as Results;
      // The broker was down for part of the run: the load it could not take is short, and the verdict says whose limit that was.
      assert.equal(result.code, runExitCode(results, 'duration', undefined), result.stderr);
      assert.ok(results.load && results.load.cause !== 'generator', JSON.stringify(results.load));
      const connect = row(results, 'CONNECT');
      const publish = row(results, 'PUBLISH');
      assert.ok(connect.failures > 0, 'attempts while the broker was down failed');
      assert.ok(connect.requests - connect.failures >= 100, 'every device connected twice');
      assert.equal(results.devices.online, 50, 'all back online before the end');
      // Devices wait for their session instead of failing publishes while the broker is down; only a
      // burst caught in flight by the kill fails, as lost.
      assert.ok(publish.failures < publish.requests / 10);
      assert.ok(results.failures.filter((failure) => failure.type === 'PUBLISH').every((failure) => failure.error.startsWith('connection lost')));
      // Every failure has a stated reason, and nothing is both acked and failed.
      assert.equal(
        results.failures.reduce((sum, failure) => sum + failure.count, 0),
        results.total.failures,
      );
      const lines = await readLog(log);
      assert.equal(lines.filter((line) => line.type === 'PUBLISH').length, publish.requests);
      assert.equal(lines.filter((line) => line.type === 'PUBLISH' && line.outcome === 'ok').length, publish.requests - publish.failures);
      const received = await broker.publishesReceived();
      const lastConnectMs = Math.max(...lines.filter((line) => line.type === 'CONNECT' && line.outcome === 'ok').map((line) => line.intendedAtMs));
      const ackedAfterRestart = lines.filter((line) => line.type === 'PUBLISH' && line.outcome === 'ok' && line.intendedAtMs > lastConnectMs).length;
      assert.ok(received > 0, 'the restarted broker received publishes');
      assert.ok(ackedAfterRestart <= received, `acked after the last reconnect ${ackedAfterRestart}, restarted broker received ${received}`);
      // Seeded backoff spreads the reconnects instead of one lockstep wave.
      const failedAt = lines.filter((line) => line.type === 'CONNECT' && line.outcome !== 'ok').map((line) => Math.round(line.intendedAtMs / 50));
      assert.ok(new Set(failedAt).size > 10, `reconnect attempts fell into only ${new Set(failedAt).size} 50 ms slots`);
    } finally {
      await broker.stop();
    }
  });
});
