import assert from 'node:assert/strict';
import { readFile } from 'node:fs/promises';
import { after, before, test } from 'node:test';
import { connectAsync } from 'mqtt';
import { MqttFixture } from '../../broker-fixture/index.ts';
import type { Results } from '../../src/metrics/results.ts';
import { startCli } from '../helpers/cli.ts';
import { pollUntil } from '../helpers/poll.ts';
import { TempDir } from '../helpers/temp-files.ts';

let temp: TempDir;
let fixture: MqttFixture;
let url: string;
before(async () => {
  temp = await TempDir.create();
  fixture = new MqttFixture({ otaAfterMs: 0 });
  url = await fixture.listen(0);
});
after(async () => {
  await fixture.close();
  await temp.remove();
});

test('a downlink message whose capture fails is a failed reaction with its reason, and the reaction does not run', { timeout: 30_000 }, async () => {
  await temp.write(
    'captor.device.yaml',
    `kind: device
name: captor
identity: { scheme: pattern, pattern: "captor-{index}" }
tasks:
  - every: 1h
    publish: { topic: "devices/{{ device.id }}/idle", payload: x }
on:
  - topic: "devices/{{ device.id }}/cmd"
    capture: { job: $.job }
    steps:
      - name: done
        publish: { topic: "devices/{{ device.id }}/done", payload: "{{ vars.job }}" }
`,
  );
  const profile = await temp.write('captor.yaml', 'kind: profile\nseed: 5\nfleet:\n  - device: captor.device.yaml\n    count: 1\n');
  const json = temp.file('captor.json');
  const log = temp.file('captor.ndjson');
  const sender = await connectAsync(url, { reconnectPeriod: 0 }, false);
  try {
    const subscribesBefore = fixture.counts.subscribes;
    const run = startCli(['run', profile, '--broker', url, '-t', '10m', '--json', json, '--log-requests', log, '--quiet']);
    await pollUntil('the device to subscribe', () => fixture.counts.subscribes > subscribesBefore, 20_000);
    // One good command, one that is not JSON, one without the captured path, then a good one again.
    for (const payload of ['{"job":"a1"}', 'reboot now', '{"id":7}', '{"job":"b2"}']) await sender.publishAsync('devices/captor-0/cmd', payload, { qos: 1 });
    await pollUntil('both good reactions to publish', () => (fixture.counts.topics['devices/captor-0/done'] ?? 0) >= 2, 10_000);
    run.child.kill('SIGINT');
    const result = await run.done;
    assert.equal(result.code, 130, result.stderr);
    const results = JSON.parse(await readFile(json, 'utf8')) as Results;
    assert.deepEqual(results.downlink, {
      received: 4,
      reactionsQueued: 4,
      reactionsDropped: 0,
      reactionsFailed: 2,
      reactionFailures: [
        { reason: 'capture: the message is not JSON', count: 1 },
        { reason: 'capture job: $.job is not in the message', count: 1 },
      ],
    });
    // Only the good commands ran their reaction, each with its own job: none ran on stale variables.
    const done = (await readFile(log, 'utf8'))
      .trim()
      .split('\n')
      .map((line) => JSON.parse(line) as { name: string; body: string })
      .filter((line) => line.name === 'done');
    assert.deepEqual(
      done.map((line) => line.body),
      ['a1', 'b2'],
    );
    assert.equal(fixture.counts.topics['devices/captor-0/done'], 2);
    assert.match(
      result.stdout,
      /Downlink: 4 messages received by devices, 2 ran a reaction, 2 failed before running \(capture: the message is not JSON: 1; capture job: \$\.job is not in the message: 1\)/,
    );
  } finally {
    await sender.endAsync(true);
  }
});
