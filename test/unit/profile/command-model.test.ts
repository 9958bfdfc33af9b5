import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { loadErrorFor, loadPlanFor, TempDir } from '../../helpers/temp-files.ts';

let temp: TempDir;
before(async () => {
  temp = await TempDir.create();
});
after(async () => {
  await temp.remove();
});

/** A device named `probe` (the profile's model) that commands its own kind, with `command` and `on` spliced in. */
const model = (version: string, command: string, on = ''): string => `kind: device
name: probe
mqtt: { version: "${version}" }
tasks:
  - name: cmd
    command:
      to: probe
      topic: devices/{{ target.id }}/cmd
${command}
${on}`;

describe('command and reply steps: each mistake is refused at its field, with file and line', () => {
  const cases: [string, RegExp, RegExp][] = [
    [model('3.1.1', '      json: { id: "{{ seq }}" }'), /:7:7: /, /MQTT 3.1.1 has no Correlation Data: give 'correlate'/],
    [model('3.1.1', '      payload: "x"\n      correlate: $.id'), /:\d+:\d+: /, /correlate reads the command's json payload/],
    [model('5', '      json: { a: 1 }\n      replyTopic: replies/+'), /:\d+:\d+: /, /cannot contain the wildcards/],
    [model('5', '      json: { a: 1 }').replace('to: probe', 'to: lamp'), /:7:11: /, /no device model named 'lamp' in this profile's fleet \(models: probe\)/],
    [model('5', '      json: { a: 1 }') + '  - name: other\n    publish: { topic: "x/{{ target.id }}" }\n', /:\d+:\d+: /, /known only in a 'command' step/],
    [
      model('5', '      json: { a: 1 }').replace('    command:\n      to: probe\n      topic: devices/{{ target.id }}/cmd\n', '    reply:\n'),
      /:\d+:\d+: /,
      /a reply answers a received message: put it in a reaction's steps/,
    ],
    [model('3.1.1', '      json: { id: "{{ seq }}" }\n      correlate: $.id', 'on:\n  - topic: in\n    steps:\n      - reply: { payload: ok }\n'), /:\d+:\d+: /, /MQTT 5 only/],
  ];
  for (const [text, where, message] of cases) {
    test(message.source, async () => {
      const error = await loadErrorFor(temp, text);
      assert.match(error.message, new RegExp(`\\.device\\.yaml${where.source}`));
      assert.match(error.message, message);
    });
  }
});

describe('a model with commands', () => {
  test('subscribes to its reply topic on connect and offers COMMAND rows', async () => {
    const plan = await loadPlanFor(
      temp,
      model('5', '      json: { a: 1 }\n      replyTopic: backend/{{ device.id }}/replies', 'on:\n  - topic: devices/{{ device.id }}/cmd\n    steps:\n      - reply: { json: { ok: true } }\n'),
    );
    const probe = plan.fleet[0]?.model;
    assert.ok(probe);
    const replies = probe.reactions.find((reaction) => reaction.commandReplies);
    assert.equal(replies?.filterName, 'backend/+/replies');
    assert.equal(replies?.commandReplies?.correlate, undefined, 'MQTT 5 without correlate: Correlation Data');
    assert.equal(probe.tasks[0]?.steps[0]?.action.kind, 'command');
    const reply = probe.reactions[0]?.task?.steps[0]?.action;
    assert.ok(reply?.kind === 'publish' && reply.reply === true);
  });
});
