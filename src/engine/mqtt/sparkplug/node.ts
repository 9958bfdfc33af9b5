import type { StatsEntry } from '../../../metrics/stats.ts';
import type { SparkplugNodeCounts, SparkplugTally } from '../../../metrics/sparkplug.ts';
import type { SparkplugDataKind, SparkplugSpec } from '../../../profile/sparkplug-spec.ts';
import type { TemplateContext } from '../../../template/context.ts';
import type { MqttSession } from '../../../transport/mqtt/mqtt.ts';
import type { Outcome } from '../../../transport/types.ts';
import { MqttAttempt } from '../mqtt-attempt.ts';
import type { MqttAttemptOwner } from '../mqtt-attempt.ts';
import { asksRebirth, birthMetrics, dataMetrics, describeSparkplug, encodeSparkplug } from './payloads.ts';
import { sparkplugTopics, stateOnline, validSparkplugId } from './topics.ts';
import type { SparkplugTopics } from './topics.ts';

/** A Sparkplug model with the stats rows its births and subscriptions count in. */
export interface BoundSparkplug {
  readonly spec: SparkplugSpec;
  readonly nbirth: StatsEntry;
  readonly dbirth: StatsEntry;
  readonly commands: StatsEntry;
  readonly state: StatsEntry | undefined;
}

/** The device that is the edge node: what templates read, and where its births are recorded. */
export interface SparkplugDevice extends TemplateContext {
  repeatIndex: number;
  readonly link: { readonly session: MqttSession; readonly connected: boolean } | undefined;
  /** A data step parked for the birth may go on. */
  resumeParked(): void;
  /** Records one birth or subscription attempt the node sent (as the device's own attempts are). */
  recordAttempt(stats: StatsEntry, attempt: MqttAttempt, outcome: Outcome, error: string | undefined, latencyMicros: number, answered: boolean): void;
  /** Counts an attempt as started; returns the run clock's now. */
  attemptStarted(): number;
}

const ACK_TIMEOUT_MS = 10_000;
/** Sparkplug's seq and bdSeq both run 0..255 and wrap. */
const SEQ_MODULO = 256;

/**
 * One Sparkplug B edge node (Eclipse Sparkplug 3.0) on its device's MQTT session: NDEATH as the
 * will with a bdSeq that moves on every connect; NBIRTH and the DBIRTHs once the session is up (and
 * the primary host is online), then NDATA/DDATA numbered by a seq that wraps at 256; a rebirth on
 * NCMD Node Control/Rebirth and when the primary host comes back.
 */
export class SparkplugNode implements MqttAttemptOwner {
  /** A birth went out on this session and the host (if any) is online: data may flow. */
  born = false;
  readonly topics: SparkplugTopics;
  private readonly counts: SparkplugNodeCounts;
  private seq = 0;
  private bdSeq = -1;
  private hostOnline: boolean;
  private sessionBirths = 0;
  /** Numbers births and subscriptions in the request log, apart from the device's tasks. */
  private logSeq = 0;

  constructor(
    private readonly bound: BoundSparkplug,
    private readonly device: SparkplugDevice,
    tally: SparkplugTally,
  ) {
    const spec = bound.spec;
    const node = String(spec.node.evaluate(device));
    const devices: string[] = [];
    for (let i = 0; i < spec.devices; i++) {
      device.repeatIndex = i;
      devices.push(String(spec.deviceId.evaluate(device)));
    }
    device.repeatIndex = 0;
    for (const id of [node, ...devices]) if (!validSparkplugId(id)) throw new Error(`sparkplug id '${id}' of device ${device.deviceId} contains +, # or /`);
    this.topics = sparkplugTopics(spec.group, node, devices, spec.primaryHost);
    this.counts = tally.add(spec.group, node);
    this.hostOnline = spec.primaryHost === undefined;
  }

  /** The will of the next connect: NDEATH with the next bdSeq (QoS 1, not retained, as 3.0 asks). */
  nextWill(): { topic: string; payload: Buffer; qos: 1; retain: false } {
    this.bdSeq = (this.bdSeq + 1) % SEQ_MODULO;
    this.counts.bdSeq = this.bdSeq;
    return { topic: this.topics.ndeath, payload: this.deathPayload(), qos: 1, retain: false };
  }

  sessionUp(): void {
    const session = (this.device.link as { session: MqttSession }).session;
    this.subscribe(session, this.topics.ncmd, this.bound.commands);
    this.subscribe(session, this.topics.dcmd, this.bound.commands);
    if (this.topics.state && this.bound.state) this.subscribe(session, this.topics.state, this.bound.state);
    else this.birth();
  }

  /** The session is gone: a born node's will is the broker's NDEATH. */
  sessionDown(): void {
    if (this.sessionBirths > 0) this.counts.deaths++;
    this.born = false;
    this.sessionBirths = 0;
    // The retained STATE comes again with the next session's subscription.
    this.hostOnline = this.bound.spec.primaryHost === undefined;
  }

  /** Handles the node's own commands and the host's STATE; false for any other topic. */
  message(topic: string, payload: Buffer): boolean {
    const topics = this.topics;
    if (topic === topics.ncmd) {
      if (asksRebirth(payload)) {
        this.counts.rebirthRequests++;
        if (this.hostOnline) this.birth();
      }
      return true;
    }
    if (topic === topics.state) {
      const online = stateOnline(payload);
      if (online === true && !this.hostOnline) {
        this.hostOnline = true;
        this.birth();
      } else if (online === false) {
        // Data waits for the host; its return brings a rebirth.
        this.hostOnline = false;
        this.born = false;
      }
      return true;
    }
    return topic.startsWith(topics.dcmd.slice(0, -1));
  }

  /** The device is ending cleanly: an NDEATH goes out before the DISCONNECT, which suppresses the will. */
  finish(): void {
    const link = this.device.link;
    if (this.sessionBirths > 0 && link?.connected) {
      link.session.publish(this.topics.ndeath, this.deathPayload(), 0, false, ACK_TIMEOUT_MS, () => undefined);
      this.counts.deaths++;
    }
    this.born = false;
    this.sessionBirths = 0;
  }

  /** A numbered message failed to go out: a host sees the next seq out of order. */
  lost(): void {
    this.counts.outOfOrderSeq++;
  }

  nextSeq(): number {
    const seq = this.seq;
    this.seq = (seq + 1) % SEQ_MODULO;
    return seq;
  }

  topic(kind: SparkplugDataKind, device: number): string {
    return kind === 'NDATA' ? this.topics.ndata : (this.topics.ddata[device] ?? this.topics.ndata);
  }

  /** One NDATA (all node metrics) or the DDATA of device `device`, with the next seq. */
  data(kind: SparkplugDataKind, device: number, context: TemplateContext): Buffer {
    const spec = this.bound.spec;
    const now = Date.now();
    if (kind === 'NDATA') return encodeSparkplug(now, this.nextSeq(), dataMetrics(spec.nodeMetrics, 0, context, now));
    const metrics = spec.deviceMetrics[device] ?? [];
    return encodeSparkplug(now, this.nextSeq(), dataMetrics(metrics, this.deviceAliasBase(device), context, now));
  }

  mqttAttemptEnded(attempt: MqttAttempt, outcome: Outcome, error: string | undefined, latencyMicros: number, answered: boolean): void {
    if (outcome !== 'ok' && attempt.body !== undefined) this.lost();
    this.device.recordAttempt(attempt.stats as StatsEntry, attempt, outcome, error, latencyMicros, answered);
  }

  private deviceAliasBase(device: number): number {
    const spec = this.bound.spec;
    return spec.nodeMetrics.length + device * (spec.deviceMetrics[0]?.length ?? 0);
  }

  private deathPayload(): Buffer {
    return encodeSparkplug(Date.now(), undefined, [{ name: 'bdSeq', type: 'UInt64', value: this.bdSeq }]);
  }

  /** NBIRTH with seq 0, bdSeq and Node Control/Rebirth, then every DBIRTH (Sparkplug 3.0, 6.4.18-19). */
  private birth(): void {
    const session = this.device.link?.session;
    if (!session || !this.device.link?.connected) return;
    const spec = this.bound.spec;
    const device = this.device;
    const now = Date.now();
    this.seq = 0;
    const nodeMetrics = [
      { name: 'bdSeq', type: 'UInt64' as const, value: this.bdSeq, timestamp: now },
      { name: 'Node Control/Rebirth', type: 'Boolean' as const, value: false, timestamp: now },
      ...birthMetrics(spec.nodeMetrics, 0, device, now),
    ];
    this.born = true;
    this.counts.births++;
    if (this.sessionBirths++ > 0) this.counts.rebirths++;
    this.publish(session, this.topics.nbirth, encodeSparkplug(now, this.nextSeq(), nodeMetrics), this.bound.nbirth);
    for (let i = 0; i < spec.devices; i++) {
      device.repeatIndex = i;
      const metrics = birthMetrics(spec.deviceMetrics[i] ?? [], this.deviceAliasBase(i), device, now);
      this.publish(session, this.topics.dbirth[i] as string, encodeSparkplug(now, this.nextSeq(), metrics), this.bound.dbirth);
    }
    device.repeatIndex = 0;
    device.resumeParked();
  }

  private publish(session: MqttSession, topic: string, payload: Buffer, stats: StatsEntry): void {
    const attempt = this.attempt(topic, payload);
    attempt.begin(stats, ACK_TIMEOUT_MS);
    session.publish(topic, payload, 0, false, ACK_TIMEOUT_MS, attempt.onAck);
  }

  private subscribe(session: MqttSession, filter: string, stats: StatsEntry): void {
    const attempt = this.attempt(filter, undefined);
    attempt.begin(stats, ACK_TIMEOUT_MS);
    session.subscribe(filter, 1, attempt.onAck);
  }

  private attempt(target: string, body: Buffer | undefined): MqttAttempt {
    const attempt = new MqttAttempt(this);
    attempt.inTask = false;
    attempt.seq = this.logSeq++;
    attempt.target = target;
    attempt.body = body;
    attempt.describe = body === undefined ? undefined : describeSparkplug;
    attempt.startedAt = attempt.intendedAt = this.device.attemptStarted();
    return attempt;
  }
}
