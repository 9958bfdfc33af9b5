import type { PublishAction, PublishProperties } from '../profile/types.ts';
import type { TemplateContext } from '../template/context.ts';
import { PropertyWriter, PublishProperty } from '../transport/mqtt-publish-extras.ts';
import type { PublishExtras } from '../transport/mqtt-publish-extras.ts';
import type { MqttSession } from '../transport/mqtt.ts';
import { refusal } from '../transport/mqtt-labels.ts';
import type { MqttAttempt } from './mqtt-attempt.ts';
import { DELIVERY_PROPERTY } from './delivery.ts';
import type { DeliveryTracker } from './delivery.ts';

/** Property lists with no varying template, encoded once per step. */
const constantLists = new WeakMap<PublishProperties, Buffer>();

function isConstant(properties: PublishProperties): boolean {
  const templates = [properties.contentType, properties.responseTopic, properties.correlationData, ...properties.userProperties.map(([, value]) => value)];
  return templates.every((template) => template === undefined || template.constant !== undefined);
}

function writeProperties(writer: PropertyWriter, properties: PublishProperties, device: TemplateContext): void {
  if (properties.messageExpiryS !== undefined) writer.uint32(PublishProperty.MessageExpiry, properties.messageExpiryS);
  if (properties.contentType) writer.bytes(PublishProperty.ContentType, String(properties.contentType.evaluate(device)), 'content type');
  if (properties.responseTopic) writer.bytes(PublishProperty.ResponseTopic, String(properties.responseTopic.evaluate(device)), 'response topic');
  if (properties.correlationData) writer.bytes(PublishProperty.CorrelationData, String(properties.correlationData.evaluate(device)), 'correlation data');
  for (const [name, value] of properties.userProperties) writer.user(name, String(value.evaluate(device)));
}

function propertyList(properties: PublishProperties, device: TemplateContext): Buffer | undefined {
  const cached = constantLists.get(properties);
  if (cached) return cached;
  const writer = new PropertyWriter();
  writeProperties(writer, properties, device);
  const list = writer.finish();
  if (list && isConstant(properties)) constantLists.set(properties, list);
  return list;
}

/** The publishing device, as its extras need it. */
export interface ExtrasSource extends TemplateContext {
  readonly deviceIndex: number;
}

/**
 * What a publish with properties or a delivery header carries beyond its payload, rendered as it is
 * sent (the header's time is the send time). `seqOut.deliverySeq` gets the delivery seq, or -1 for none.
 * Publishes without either never come here.
 */
function publishExtras(action: PublishAction, device: ExtrasSource, delivery: DeliveryTracker | undefined, seqOut: { deliverySeq: number }): PublishExtras {
  let prefix: Buffer | undefined;
  let properties = action.properties && propertyList(action.properties, device);
  seqOut.deliverySeq = -1;
  if (action.delivery && delivery) {
    const seq = (seqOut.deliverySeq = delivery.nextSeq(device.deviceIndex));
    if (action.delivery === 'payload') prefix = delivery.prefix(device.deviceIndex, seq);
    else {
      const header = new PropertyWriter().user(DELIVERY_PROPERTY, delivery.propertyValue(device.deviceIndex, seq)).finish() as Buffer;
      properties = properties ? Buffer.concat([properties, header]) : header;
    }
  }
  return { prefix, properties };
}

/** Sends a publish that has properties or a delivery header; one MQTT cannot carry (a value over 64 KB) fails, not the run. */
export function publishWithExtras(session: MqttSession, attempt: MqttAttempt, action: PublishAction, device: ExtrasSource, delivery: DeliveryTracker | undefined): void {
  let extras: PublishExtras;
  try {
    extras = publishExtras(action, device, delivery, attempt);
  } catch (error) {
    return attempt.onAck(refusal(error));
  }
  session.publish(attempt.target, attempt.body ?? '', action.qos, action.retain, action.timeoutMs, attempt.onAck, extras);
}
