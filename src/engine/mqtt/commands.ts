import type { StatsEntry } from '../../metrics/stats.ts';
import { followPath } from '../../profile/capture-path.ts';
import type { CommandAction, FleetEntry, Reaction } from '../../profile/types.ts';
import type { TemplateContext } from '../../template/context.ts';
import { PublishProperty, readBytesProperty } from '../../transport/mqtt/mqtt-publish-extras.ts';
import type { MqttSession } from '../../transport/mqtt/mqtt.ts';
import { refusal } from '../../transport/mqtt/mqtt-labels.ts';
import type { MqttAttempt } from './mqtt-attempt.ts';

type Correlate = CommandAction['correlate'];

/** What the run knows of commands beyond their rows: who can be commanded, and the replies that matched nothing. */
export class CommandRoutes {
  /** Replies whose correlation matched no command waiting for one (a duplicate, another sender's, or none at all). */
  unmatchedReplies = 0;
  private readonly byModel = new Map<string, Uint32Array>();
  private readonly senders = new Set<CommandSender>();

  constructor(
    private readonly fleet: readonly FleetEntry[],
    private readonly layout: Uint16Array,
    private readonly idOf: readonly ((index: number) => string)[],
  ) {}

  /** The global indices of the devices of `model`, in fleet order: the devices its commands go to, in turn. */
  targets(model: string): Uint32Array {
    let indices = this.byModel.get(model);
    if (!indices) {
      const found: number[] = [];
      for (let i = 0; i < this.layout.length; i++) if (this.fleet[this.layout[i] ?? 0]?.model.name === model) found.push(i);
      indices = Uint32Array.from(found);
      this.byModel.set(model, indices);
    }
    return indices;
  }

  idAt(index: number): string {
    return (this.idOf[this.layout[index] ?? 0] as (index: number) => string)(index);
  }

  register(sender: CommandSender): void {
    this.senders.add(sender);
  }

  /** Commands that timed out and had no reply by now (the run's end): lost, by row. */
  lost(): Map<StatsEntry, number> {
    const lost = new Map<StatsEntry, number>();
    for (const sender of this.senders) sender.countLost(lost);
    return lost;
  }
}

/** The device that sends commands, as its sender needs it: templates rendered with the target set. */
export interface CommandingDevice extends TemplateContext {
  targetId: string;
  targetIndex: number;
}

/** `{"id": 7}` gives "7"; undefined when the text is not JSON or lacks the path. */
function correlationIn(text: string, correlate: NonNullable<Correlate>): string | undefined {
  let document: unknown;
  try {
    document = JSON.parse(text);
  } catch {
    return undefined;
  }
  const value = followPath(document, correlate.path);
  if (value === undefined || value === null) return undefined;
  if (typeof value === 'string') return value;
  return JSON.stringify(value);
}

/**
 * One device's commands in flight, for a model with command steps. A command is an MqttAttempt:
 * its timer is the round trip's timeout, its PUBLISH's ack only matters when it fails, and the reply
 * ends it through the attempt's ack path, so a reply after the timeout counts as late (the row's
 * `lateAcks`), never as a success. A command that timed out stays known until its reply comes, so the
 * run's end can count the ones never answered as lost.
 */
export class CommandSender {
  private readonly pending = new Map<string, MqttAttempt>();
  /** Commands this device has sent: which target is next, and (MQTT 5) each command's Correlation Data. */
  private sent = 0;
  /** Each command step's Response Topic property, encoded once per device. */
  private readonly responseTopics = new Map<CommandAction, Buffer>();

  constructor(
    private readonly device: CommandingDevice,
    private readonly routes: CommandRoutes,
    /** The device's place among the devices of its model, and their count: senders take turns at the targets. */
    private readonly ordinal: number,
    private readonly senders: number,
    private readonly version5: boolean,
  ) {
    routes.register(this);
  }

  /** Points the device's `target` at the next device of `action.to`; false when the run has none. */
  aim(action: CommandAction): boolean {
    const targets = this.routes.targets(action.to);
    if (targets.length === 0) return false;
    const index = targets[(this.ordinal + this.sent * this.senders) % targets.length] as number;
    this.device.targetIndex = index;
    this.device.targetId = this.routes.idAt(index);
    return true;
  }

  /** Sends the command the attempt holds (target, body rendered); it ends at its reply, its timeout or a failed PUBLISH. */
  send(session: MqttSession, attempt: MqttAttempt, action: CommandAction): void {
    const number = this.sent++;
    const body = attempt.body ?? '';
    let key: string | undefined = String(number);
    if (action.correlate) {
      key = typeof body === 'string' ? correlationIn(body, action.correlate) : undefined;
      if (key === undefined) return attempt.onAck(`correlate: ${action.correlate.expression} is not in the command`);
    }
    if (this.pending.get(key)?.pending) return attempt.onAck(`correlate: a command with id ${key} is still waiting for its reply`);
    attempt.correlation = key;
    this.pending.set(key, attempt);
    let extras;
    if (this.version5) {
      try {
        extras = { prefix: undefined, properties: this.properties(action, key) };
      } catch (error) {
        return attempt.onAck(refusal(error));
      }
    }
    attempt.commandSent();
    session.publish(attempt.target, body, action.qos, false, action.timeoutMs, attempt.onSent, extras);
  }

  /** Response Topic (rendered once) and Correlation Data, in one buffer. */
  private properties(action: CommandAction, key: string): Buffer {
    let head = this.responseTopics.get(action);
    if (!head) {
      const topic = Buffer.from(String(action.replyTopic.evaluate(this.device)));
      head = Buffer.allocUnsafe(3 + topic.length);
      head[0] = PublishProperty.ResponseTopic;
      head.writeUInt16BE(topic.length, 1);
      topic.copy(head, 3);
      this.responseTopics.set(action, head);
    }
    const keyBytes = Buffer.byteLength(key);
    const list = Buffer.allocUnsafe(head.length + 3 + keyBytes);
    let offset = head.copy(list, 0);
    list[offset++] = PublishProperty.CorrelationData;
    offset = list.writeUInt16BE(keyBytes, offset);
    list.write(key, offset, 'utf8');
    return list;
  }

  /** A message on a reply subscription: the command it answers ends (late if it had timed out). */
  reply(reaction: Reaction, payload: Buffer, properties: Buffer | undefined): void {
    const correlate = reaction.commandReplies?.correlate;
    let key: string | undefined;
    if (correlate) key = correlationIn(payload.toString('utf8'), correlate);
    else {
      const data = properties && readBytesProperty(properties, PublishProperty.CorrelationData);
      key = data?.toString('utf8');
    }
    const attempt = key === undefined ? undefined : this.pending.get(key);
    if (!attempt) {
      this.routes.unmatchedReplies++;
      return;
    }
    this.pending.delete(key as string);
    attempt.correlation = '';
    attempt.onAck();
  }

  /** The command ended: unless it timed out (a late reply may still come), its id is free. */
  ended(attempt: MqttAttempt, timedOut: boolean): void {
    if (timedOut || attempt.correlation === '') return;
    if (this.pending.get(attempt.correlation) === attempt) this.pending.delete(attempt.correlation);
    attempt.correlation = '';
  }

  countLost(into: Map<StatsEntry, number>): void {
    for (const attempt of this.pending.values()) {
      const stats = attempt.stats;
      if (attempt.pending || !stats) continue;
      into.set(stats, (into.get(stats) ?? 0) + 1);
    }
  }
}
