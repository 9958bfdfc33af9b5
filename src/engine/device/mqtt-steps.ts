import type { CommandAction, PublishAction, SubscribeAction } from '../../profile/types.ts';
import { PropertyWriter, PublishProperty } from '../../transport/mqtt/mqtt-publish-extras.ts';
import type { MqttSession } from '../../transport/mqtt/mqtt.ts';
import type { CommandSender } from '../mqtt/commands.ts';
import type { DeliveryTracker } from '../mqtt/delivery.ts';
import type { MqttAttempt } from '../mqtt/mqtt-attempt.ts';
import { publishWithExtras } from '../mqtt/publish-extras.ts';
import { describeSparkplug } from '../mqtt/sparkplug/payloads.ts';
import type { SparkplugNode } from '../mqtt/sparkplug/node.ts';
import type { BoundStep } from './bound-model.ts';
import type { VirtualDevice } from './device.ts';

// How one attempt of a device's publish, subscribe or command step is rendered and sent. The device
// runs its steps and counts what they did; these read its state as the templates see it.

/** Fills in `attempt`'s topic and payload for the device's current repeat of `action`. */
export function renderMqttAttempt(device: VirtualDevice, attempt: MqttAttempt, action: PublishAction | SubscribeAction | CommandAction): void {
  const sparkplug = action.kind === 'publish' ? action.sparkplug : undefined;
  if (sparkplug !== undefined) {
    // The edge node numbers its messages: topic and payload come from it, in send order.
    const node = device.sparkplug as SparkplugNode;
    attempt.target = node.topic(sparkplug, device.repeatIndex);
    attempt.body = node.data(sparkplug, device.repeatIndex, device);
    attempt.describe = describeSparkplug;
    return;
  }
  // A command's templates see the device it goes to; a run without such devices fails it when sent.
  const aimed = action.kind !== 'command' || (device.commands as CommandSender).aim(action);
  if (!aimed) device.targetId = '';
  attempt.target = action.kind === 'publish' && action.reply ? (device.replyTopic ?? '') : String(action.topic.evaluate(device));
  attempt.body = action.kind !== 'subscribe' ? action.payload(device) : undefined;
  attempt.describe = action.kind !== 'subscribe' ? action.describe : undefined;
}

/** Sends a rendered attempt of `step` on the session; its end comes back through the attempt's `onAck`. */
export function sendMqttAttempt(device: VirtualDevice, session: MqttSession, attempt: MqttAttempt, step: BoundStep, delivery: DeliveryTracker | undefined): void {
  const action = step.spec.action;
  if (action.kind === 'command') {
    if (device.targetId === '') return attempt.onAck(`no device of model ${action.to} in this run`);
    return (device.commands as CommandSender).send(session, attempt, action);
  }
  if (action.kind === 'publish' && action.reply) return sendReply(device, session, attempt, action);
  if (action.kind === 'publish') {
    // Properties and delivery headers are built only for the publishes that have them.
    if (step.extras === undefined) session.publish(attempt.target, attempt.body ?? '', action.qos, action.retain, action.timeoutMs, attempt.onAck);
    else publishWithExtras(session, attempt, step.extras, device, delivery);
  } else if (action.kind === 'subscribe') session.subscribe(attempt.target, action.qos, attempt.onAck);
}

/** A reaction's reply: to the message's Response Topic, with its Correlation Data echoed. */
function sendReply(device: VirtualDevice, session: MqttSession, attempt: MqttAttempt, action: PublishAction): void {
  if (device.replyTopic === undefined) return attempt.onAck('the message had no Response Topic');
  const correlation = device.replyCorrelation;
  const properties = correlation && new PropertyWriter().bytes(PublishProperty.CorrelationData, correlation, 'correlation data').finish();
  session.publish(attempt.target, attempt.body ?? '', action.qos, false, action.timeoutMs, attempt.onAck, { prefix: undefined, properties });
}
