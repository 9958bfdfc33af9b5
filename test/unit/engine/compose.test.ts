import { test } from 'node:test';
import assert from 'node:assert/strict';
import path from 'node:path';
import { compose } from '../../../src/engine/compose.ts';
import type { ComposeHost } from '../../../src/engine/compose.ts';
import type { DeviceHost } from '../../../src/engine/device/device-host.ts';
import type { LinkHost } from '../../../src/engine/mqtt/mqtt-link.ts';
import { loadRunPlan } from '../../../src/profile/load.ts';
import { ROOT } from '../../helpers/cli.ts';
import { TempDir } from '../../helpers/temp-files.ts';

const host: ComposeHost = { elapsedMs: () => 0, httpDeviceOnline: () => undefined };

const SENSOR = `kind: device
name: sensor
tasks:
  - name: /data
    http: { method: POST, path: /data }
wait: { model: pacing, interval: 1s }
`;

async function planOf(profile: string): Promise<Awaited<ReturnType<typeof loadRunPlan>>> {
  const temp = await TempDir.create();
  try {
    await temp.write('sensor.yaml', SENSOR);
    return await loadRunPlan(await temp.write('profile.yaml', profile));
  } finally {
    await temp.remove();
  }
}

test('compose builds a shard of the run from its plan, and starts nothing', async () => {
  const plan = await planOf('kind: profile\nfleet:\n  - device: sensor.yaml\n    count: 5\nduration: 1m\n');
  const parts = compose({ plan: { ...plan, shard: { index: 1, count: 2 } }, target: 'http://127.0.0.1:9/api/' }, host);
  try {
    // Shard 1 of 2 owns global indices 1 and 3; its intervals carry histograms for the merge.
    assert.equal(parts.ownedDevices, 2);
    assert.equal(parts.stats.intervalHistograms, true);
    assert.equal(parts.basePath, '/api');
    assert.equal(parts.onlineGoal, 2);
    assert.equal(parts.delivery, undefined);
    assert.deepEqual(
      parts.stats.entries.map((entry) => `${entry.type} ${entry.name}`),
      ['POST /data'],
    );
    assert.equal(parts.offered.longestCycleMs, 1000);
    const device = parts.devices.make(3, {} as DeviceHost & LinkHost);
    assert.equal(device.deviceIndex, 3);
    assert.equal(device.link, undefined, 'an HTTP-only model keeps no MQTT session');
    assert.equal(device.finished, false);
    assert.equal(device.inFlight, false);
  } finally {
    await parts.transport.destroy();
  }
});

test('compose refuses a fleet that keeps MQTT sessions when no broker was given', async () => {
  const plan = await loadRunPlan(path.join(ROOT, 'profiles/lamp.yaml'));
  assert.throws(() => compose({ plan, target: 'http://127.0.0.1:9' }, host), /a device model keeps an MQTT session but no broker was given/);
});
