import type { PublishAction, PublishProperties, TaskAction } from '../../profile/types.ts';
import type { CompiledTemplate } from '../../template/compile.ts';
import type { TemplateContext } from '../../template/context.ts';
import { PropertyWriter, PublishProperty } from '../../transport/mqtt/mqtt-publish-extras.ts';
import type { PublishExtras } from '../../transport/mqtt/mqtt-publish-extras.ts';
import type { MqttSession } from '../../transport/mqtt/mqtt.ts';
import { refusal } from '../../transport/mqtt/mqtt-labels.ts';
import type { MqttAttempt } from './mqtt-attempt.ts';
import { DELIVERY_PROPERTY } from './delivery.ts';
import type { DeliveryHeaderMode } from '../../profile/types.ts';
import type { DeliveryTracker } from './delivery.ts';

/**
 * What a publish step with properties or a delivery header sends beyond its payload, worked out
 * once when the step is bound: a property list without varying templates is encoded here, and
 * only a varying one is rendered per publish.
 */
export interface PublishExtrasPlan {
  readonly action: PublishAction;
  readonly delivery: DeliveryHeaderMode | undefined;
  /** The property list, encoded: every template in it is constant (undefined when it varies or is absent). */
  readonly constantList: Buffer | undefined;
  /** The properties to render per publish: some template in them varies. */
  readonly varying: PublishProperties | undefined;
}

/** The delivery user property up to its value: identifier, name length, name. The same for every publish. */
const DELIVERY_HEAD = (() => {
  const name = Buffer.from(DELIVERY_PROPERTY);
  const head = Buffer.allocUnsafe(3 + name.length);
  head[0] = PublishProperty.User;
  head.writeUInt16BE(name.length, 1);
  name.copy(head, 3);
  return head;
})();

function writeProperties(writer: PropertyWriter, properties: PublishProperties, render: (template: CompiledTemplate) => string): void {
  if (properties.messageExpiryS !== undefined) writer.uint32(PublishProperty.MessageExpiry, properties.messageExpiryS);
  if (properties.contentType) writer.bytes(PublishProperty.ContentType, render(properties.contentType), 'content type');
  if (properties.responseTopic) writer.bytes(PublishProperty.ResponseTopic, render(properties.responseTopic), 'response topic');
  if (properties.correlationData) writer.bytes(PublishProperty.CorrelationData, render(properties.correlationData), 'correlation data');
  for (const [name, value] of properties.userProperties) writer.user(name, render(value));
}

function isConstant(properties: PublishProperties): boolean {
  const templates = [properties.contentType, properties.responseTopic, properties.correlationData, ...properties.userProperties.map(([, value]) => value)];
  return templates.every((template) => template === undefined || template.constant !== undefined);
}

/** The constant list encoded, or undefined when one of its values cannot be sent: each publish then fails by name, as a varying one would. */
function encodeConstant(properties: PublishProperties): Buffer | undefined {
  const writer = new PropertyWriter();
  try {
    writeProperties(writer, properties, (template) => String(template.constant));
  } catch {
    return undefined;
  }
  return writer.finish();
}

/** The plan of a publish action that has properties or a delivery header; undefined for every other action. */
export function publishExtrasPlan(action: TaskAction): PublishExtrasPlan | undefined {
  if (action.kind !== 'publish' || (action.properties === undefined && action.delivery === undefined)) return undefined;
  const properties = action.properties;
  const constantList = properties && isConstant(properties) ? encodeConstant(properties) : undefined;
  return { action, delivery: action.delivery, constantList, varying: constantList ? undefined : properties };
}

/** The publishing device, as its extras need it. */
export interface ExtrasSource extends TemplateContext {
  readonly deviceIndex: number;
}

/** `list`, then the delivery user property with `value` (ASCII: `index:seq:sendTimeMs`), in one buffer. */
function withDeliveryProperty(list: Buffer | undefined, value: string): Buffer {
  const listBytes = list?.length ?? 0;
  const buffer = Buffer.allocUnsafe(listBytes + DELIVERY_HEAD.length + 2 + value.length);
  if (list) list.copy(buffer, 0);
  let offset = listBytes + DELIVERY_HEAD.copy(buffer, listBytes);
  offset = buffer.writeUInt16BE(value.length, offset);
  buffer.write(value, offset, 'latin1');
  return buffer;
}

/**
 * What the publish carries beyond its payload, rendered as it is sent (the header's time is the send
 * time). `seqOut.deliverySeq` gets the delivery seq, or -1 for none.
 */
function publishExtras(plan: PublishExtrasPlan, device: ExtrasSource, delivery: DeliveryTracker | undefined, seqOut: { deliverySeq: number }): PublishExtras {
  let list = plan.constantList;
  if (plan.varying) {
    const writer = new PropertyWriter();
    writeProperties(writer, plan.varying, (template) => String(template.evaluate(device)));
    list = writer.finish();
  }
  seqOut.deliverySeq = -1;
  if (!plan.delivery || !delivery) return { prefix: undefined, properties: list };
  const seq = (seqOut.deliverySeq = delivery.nextSeq(device.deviceIndex));
  if (plan.delivery === 'payload') return { prefix: delivery.prefix(device.deviceIndex, seq), properties: list };
  return { prefix: undefined, properties: withDeliveryProperty(list, delivery.propertyValue(device.deviceIndex, seq)) };
}

/** Sends a publish that has properties or a delivery header; one MQTT cannot carry (a value over 64 KB) fails, not the run. */
export function publishWithExtras(session: MqttSession, attempt: MqttAttempt, plan: PublishExtrasPlan, device: ExtrasSource, delivery: DeliveryTracker | undefined): void {
  let extras: PublishExtras;
  try {
    extras = publishExtras(plan, device, delivery, attempt);
  } catch (error) {
    return attempt.onAck(refusal(error));
  }
  const action = plan.action;
  session.publish(attempt.target, attempt.body ?? '', action.qos, action.retain, action.timeoutMs, attempt.onAck, extras);
}
