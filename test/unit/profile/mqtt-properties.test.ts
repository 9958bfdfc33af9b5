import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import type { PublishAction } from '../../../src/profile/types.ts';
import { loadErrorFor, loadPlanFor, TempDir } from '../../helpers/temp-files.ts';

let temp: TempDir;
before(async () => {
  temp = await TempDir.create();
});
after(async () => {
  await temp.remove();
});

const BROKER = 'iterations: 1\nbroker: mqtt://127.0.0.1:1883\n';

const publisher = (version: string, publishExtra: string, mqttExtra = ''): string => `kind: device
name: lamp
mqtt:
  version: "${version}"
${mqttExtra}tasks:
  - publish:
      topic: devices/{{ device.id }}/lamp/changed
      qos: 1
${publishExtra}`;

describe('MQTT 5 properties and delivery in device models', () => {
  test('PUBLISH properties, delivery header, CONNECT user properties, Receive Maximum and processing compile', async () => {
    const plan = await loadPlanFor(
      temp,
      publisher(
        '5',
        '      delivery: property\n      properties:\n        messageExpiry: 2m\n        contentType: application/json\n        user: { a: "{{ device.id }}", b: x }\n',
        '  receiveMaximum: 10\n  processing: 5ms\n  userProperties: { site: "{{ device.id }}" }\n',
      ),
      BROKER,
    );
    const model = plan.fleet[0]?.model;
    const action = model?.tasks[0]?.steps[0]?.action as PublishAction;
    assert.equal(action.delivery, 'property');
    assert.equal(action.properties?.messageExpiryS, 120);
    assert.equal(action.properties?.contentType?.constant, 'application/json');
    assert.deepEqual(
      action.properties?.userProperties.map(([name]) => name),
      ['a', 'b'],
    );
    assert.equal(action.properties?.responseTopic, undefined);
    assert.equal(model?.mqtt?.receiveMaximum, 10);
    assert.equal(model?.mqtt?.processingMs, 5);
    assert.deepEqual(
      model?.mqtt?.userProperties.map(([name]) => name),
      ['site'],
    );
  });

  test('a publish without properties or delivery has neither: nothing extra per publish', async () => {
    const plan = await loadPlanFor(temp, publisher('3.1.1', ''), BROKER);
    const action = plan.fleet[0]?.model.tasks[0]?.steps[0]?.action as PublishAction;
    assert.equal(action.properties, undefined);
    assert.equal(action.delivery, undefined);
  });

  test('MQTT 5 fields on a 3.1.1 model are refused at the field, with the fix', async () => {
    const properties = await loadErrorFor(temp, publisher('3.1.1', '      properties: { contentType: text/plain }\n'), BROKER);
    assert.equal(properties.field, 'tasks[0].publish.properties');
    assert.match(properties.message, /MQTT 5 only: set mqtt.version: "5"/);
    const header = await loadErrorFor(temp, publisher('3.1.1', '      delivery: property\n'), BROKER);
    assert.equal(header.field, 'tasks[0].publish.delivery');
    const connect = await loadErrorFor(temp, publisher('3.1.1', '', '  userProperties: { a: b }\n'), BROKER);
    assert.equal(connect.field, 'mqtt.userProperties');
    const receive = await loadErrorFor(temp, publisher('3.1.1', '', '  receiveMaximum: 5\n'), BROKER);
    assert.equal(receive.field, 'mqtt.receiveMaximum');
  });

  test('a device may only listen: on: without steps and no tasks; with neither it is refused', async () => {
    const plan = await loadPlanFor(temp, 'kind: device\nname: consumer\non:\n  - topic: devices/+/lamp/changed\n', BROKER);
    const model = plan.fleet[0]?.model;
    assert.equal(model?.tasks.length, 0);
    assert.equal(model?.reactions[0]?.task, undefined);
    assert.ok(model?.mqtt, 'a listening device keeps a session');
    const error = await loadErrorFor(temp, 'kind: device\nname: idle\n', BROKER);
    assert.match(error.message, /a device needs tasks, or subscriptions under 'on'/);
    const capture = await loadErrorFor(temp, 'kind: device\nname: consumer\non:\n  - topic: a/b\n    capture: { x: $.x }\n', BROKER);
    assert.equal(capture.field, 'on[0].capture');
  });
});
