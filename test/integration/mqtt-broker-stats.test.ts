import assert from 'node:assert/strict';
import { readFile } from 'node:fs/promises';
import { after, before, describe, test } from 'node:test';
import { MqttFixture } from '../../broker-fixture/index.ts';
import type { Results } from '../../src/metrics/results.ts';
import { runCli } from '../helpers/cli.ts';
import { mosquittoSkip, startMosquitto } from '../helpers/mosquitto.ts';
import { TempDir } from '../helpers/temp-files.ts';

const skip = mosquittoSkip();
let temp: TempDir;
let profile: string;
before(async () => {
  temp = await TempDir.create();
  await temp.write(
    'stats-lamp.device.yaml',
    `kind: device
name: lamp
identity: { scheme: sequential-hex, base: "0x1e0000000000", width: 12 }
tasks:
  - name: lamp/changed
    repeat: 10
    publish: { topic: "devices/{{ device.id }}/lamp/changed", qos: 1, json: { brightness: "{{ float(0, 1) }}" } }
wait: { model: constant, time: 100ms }
`,
  );
  profile = await temp.write('stats-lamps.yaml', 'kind: profile\nseed: 5\nfleet:\n  - device: stats-lamp.device.yaml\n    count: 20\nspawnRate: 200\n');
});
after(async () => {
  await temp.remove();
});

async function run(broker: string): Promise<{ results: Results; stdout: string; elapsedMs: number }> {
  const json = temp.file(`stats-${Math.random().toString(36).slice(2)}.json`);
  const started = Date.now();
  const result = await runCli(['run', profile, '--broker', broker, '--iterations', '25', '--broker-stats', '--json', json, '--quiet'], 60_000);
  assert.equal(result.code, 0, result.stderr);
  return { results: JSON.parse(await readFile(json, 'utf8')) as Results, stdout: result.stdout, elapsedMs: Date.now() - started };
}

describe('--broker-stats', () => {
  test('against Mosquitto: $SYS figures in the results and the summary, received = fleetsim acked', { skip, timeout: 60_000 }, async () => {
    const broker = await startMosquitto();
    try {
      const { results, stdout } = await run(broker.url);
      const publish = results.stats.find((row) => row.type === 'PUBLISH');
      assert.equal(publish?.requests, 20 * 25 * 10);
      const acked = publish.requests - publish.failures;
      const stats = results.broker;
      assert.ok(stats, 'a broker section');
      assert.equal(stats.fresh, true, 'a $SYS tick after the run was seen');
      assert.equal(stats.publishReceived, acked);
      assert.equal(stats.publishDropped, 0);
      // Sampled once per $SYS tick (1 s here): the 2.5 s run spans ticks with every lamp connected.
      assert.ok((stats.clientsConnected.peak ?? 0) >= 21, `peak ${stats.clientsConnected.peak}: 20 lamps and the probe`);
      assert.ok((stats.messagesReceived ?? 0) > acked, 'every PUBLISH is a packet, and so are CONNECTs and PINGREQs');
      assert.ok('messages/received' in stats.load1min, Object.keys(stats.load1min).join(', '));
      assert.equal(stats.loadUnit, 'per minute');
      assert.equal(stats.notes, undefined, 'plain MQTT: the sent counters cover every delivery');
      assert.match(stdout, /Broker load, 1-min average \(per minute, not per second\): .*messages\/received \d/);
      assert.match(stdout, new RegExp(`Broker \\(\\$SYS\\): received ${acked.toLocaleString('en-US')} publishes during the run \\(fleetsim acked ${acked.toLocaleString('en-US')}\\)`));
    } finally {
      await broker.stop();
    }
  });

  test('against a broker without Mosquitto-style $SYS (Aedes): nulls, said so, and no wait at the end', { timeout: 60_000 }, async () => {
    const fixture = new MqttFixture({ otaAfterMs: 0 });
    const url = await fixture.listen(0);
    try {
      const { results, stdout, elapsedMs } = await run(url);
      assert.equal(results.broker?.publishReceived, null);
      assert.equal(results.broker?.fresh, false);
      assert.match(stdout, /Broker \(\$SYS\): the broker published no Mosquitto-style \$SYS figures/);
      assert.ok(elapsedMs < 14_000, `${elapsedMs} ms: the probe did not wait out its 15 s deadline`);
    } finally {
      await fixture.close();
    }
  });

  test('with a TLS broker: exit 2 naming the flag', { timeout: 30_000 }, async () => {
    const result = await runCli(['run', profile, '--broker', 'mqtts://127.0.0.1:1', '--broker-stats', '-t', '1s'], 20_000);
    assert.equal(result.code, 2, result.stderr);
    assert.match(result.stderr, /--broker-stats: only mqtt:\/\/ and ws:\/\/ brokers for now/);
    assert.doesNotMatch(result.stderr, /^\s+at /m);
  });
});
