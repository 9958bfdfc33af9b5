import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { readFile } from 'node:fs/promises';
import type { Results } from '../../src/metrics/results.ts';
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
  readonly name: string;
  readonly body: string | null;
  readonly outcome: string;
}

test('a reboot wave: CONNECTs and boot tasks equal the plan, each rebooted device boots with the next count', { timeout: 60_000 }, async () => {
  await temp.write(
    'rebooter.device.yaml',
    `kind: device
name: rebooter
mqtt: { keepalive: 30s, reconnect: { min: 100ms, max: 200ms } }
boot:
  - name: hello
    publish: { topic: "boot/{{ device.id }}", qos: 1, payload: "boot {{ device.boots }}" }
tasks:
  - name: reading
    publish: { topic: "readings/{{ device.id }}", qos: 1, payload: "{{ int(0, 9) }}" }
wait: { model: constant, time: 200ms }
`,
  );
  const profile = await temp.write(
    'wave.yaml',
    `kind: profile
seed: 11
fleet:
  - device: rebooter.device.yaml
    count: 10
spawn: { mode: all-at-once }
duration: 4s
events:
  - reboot: { at: 1s, share: 50%, over: 500ms, bootTime: 300ms }
`,
  );
  const json = temp.file('wave.json');
  const log = temp.file('wave.ndjson');
  const result = await runCli(['run', profile, '--json', json, '--log-requests', log, '--quiet'], 40_000);
  assert.equal(result.code, 0, result.stderr);
  const results = JSON.parse(await readFile(json, 'utf8')) as Results;
  assert.deepEqual(results.lifecycle?.planned, { reboots: 5, offline: 0 });
  assert.equal(results.lifecycle.reboots, 5);
  const connect = results.stats.find((row) => row.type === 'CONNECT');
  const hello = results.stats.find((row) => row.name === 'hello');
  // Ten first connections and one more for each reboot; ten boots and five again.
  assert.equal(connect?.requests, 15);
  assert.equal(connect.failures, 0);
  assert.equal(hello?.requests, 15);
  assert.equal(hello.failures, 0);
  const lines = (await readFile(log, 'utf8'))
    .trim()
    .split('\n')
    .map((line) => JSON.parse(line) as LogLine);
  const boots = lines.filter((line) => line.name === 'hello');
  const second = boots.filter((line) => line.body === 'boot 2');
  assert.equal(boots.filter((line) => line.body === 'boot 1').length, 10);
  assert.equal(second.length, 5);
  assert.equal(new Set(second.map((line) => line.device)).size, 5, 'five different devices rebooted');
  // The devices went on publishing after their reboot.
  for (const device of new Set(second.map((line) => line.device))) {
    const after = lines.slice(lines.findIndex((line) => line.device === device && line.body === 'boot 2'));
    assert.ok(after.some((line) => line.device === device && line.name === 'reading' && line.outcome === 'ok'), `${device} published after its reboot`);
  }
});
