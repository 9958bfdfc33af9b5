import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { entryOrdinals, fleetIdFunctions, layoutFleet } from '../../../src/engine/fleet/fleet-layout.ts';
import { DeviceTlsResolver } from '../../../src/engine/mqtt/tls-files.ts';
import { loadRunPlan } from '../../../src/profile/load.ts';
import type { RunPlan } from '../../../src/profile/types.ts';
import { TempDir } from '../../helpers/temp-files.ts';

let temp: TempDir;
before(async () => {
  temp = await TempDir.create();
  await temp.write('ca.pem', 'ca');
  for (const name of ['a', 'b']) {
    await temp.write(`${name}.crt`, `cert ${name}`);
    await temp.write(`${name}.key`, `key ${name}`);
  }
  // Rows 0 and 2 share a certificate; row 3 names files that do not exist.
  await temp.write('fleet.csv', 'id,cert,key\nn0,a.crt,a.key\nn1,b.crt,b.key\nn2,a.crt,a.key\nn3,gone.crt,gone.key\n');
  await temp.write('m.yaml', 'kind: device\nname: m\nidentity: { scheme: data, column: id }\nmqtt: {}\ntasks:\n  - publish: { topic: "t/{{ device.id }}", payload: x }\n');
});
after(async () => {
  await temp.remove();
});

function mqttResolverFor(plan: RunPlan): DeviceTlsResolver {
  const layout = layoutFleet(plan.fleet);
  const ordinals = entryOrdinals(layout, plan.fleet.length);
  return new DeviceTlsResolver(plan.mqtt.tls, { fleet: plan.fleet, layout, ordinals, idOf: fleetIdFunctions(plan.fleet, ordinals, plan.seed) });
}

test("certificate paths from data columns: each device its row's files, the same files the same id, a missing one a reason", async () => {
  const profile = await temp.write(
    'p.yaml',
    'fleet:\n  - device: m.yaml\n    count: 4\n    data: { file: fleet.csv }\niterations: 1\nmqtt:\n  tls:\n    ca: ca.pem\n    cert: "{{ data.cert }}"\n    key: "{{ data.key }}"\n',
  );
  const plan = await loadRunPlan(profile, { broker: 'mqtts://127.0.0.1:1' });
  assert.deepEqual(plan.mqtt.tls?.dataColumns, ['cert', 'key']);
  const resolver = mqttResolverFor(plan);
  const [first, second, third, fourth] = [0, 1, 2, 3].map((index) => resolver.forDevice(index));
  assert.equal(first?.cert?.toString(), 'cert a');
  assert.equal(first?.key?.toString(), 'key a');
  assert.equal(first?.ca?.toString(), 'ca');
  assert.equal(second?.cert?.toString(), 'cert b');
  assert.equal(third?.id, first?.id, 'devices presenting the same files may share connections');
  assert.notEqual(second?.id, first?.id);
  assert.match(fourth?.problem ?? '', /^cannot read gone\.crt: /);
});
