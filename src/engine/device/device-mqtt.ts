import type { StatsEntry } from '../../metrics/stats.ts';
import type { CommandAction, PublishAction, SubscribeAction } from '../../profile/types.ts';
import { isConnectionLoss } from '../../transport/mqtt/mqtt-labels.ts';
import type { Outcome } from '../../transport/types.ts';
import type { CommandSender } from '../mqtt/commands.ts';
import { MqttAttempt } from '../mqtt/mqtt-attempt.ts';
import type { MqttAttemptOwner } from '../mqtt/mqtt-attempt.ts';
import type { MqttLink } from '../mqtt/mqtt-link.ts';
import { latencyFromIntendedMicros, startedLate } from '../schedule/wait.ts';
import type { BoundReaction, BoundStep } from './bound-model.ts';
import type { VirtualDevice } from './device.ts';
import type { DeviceHost } from './device-host.ts';
import { renderMqttAttempt, sendMqttAttempt } from './mqtt-steps.ts';

/**
 * A device's side of its MQTT session, for a model that keeps one (other devices carry none): its
 * MQTT steps' attempts and how each ended, the SUBSCRIBEs its reactions make on every connect, the
 * session going down, and where each message it hears goes. The device runs its tasks: it starts a
 * step here, hears when the step ended, and decides when a queued reaction runs. Attempts are
 * reused and their handlers bound once, so an attempt allocates nothing here.
 */
export class DeviceMqtt implements MqttAttemptOwner {
  // Built at its final length: an array that grows by push reserves 16 slots, and at 10,000
  // devices each such array costs ~1.7 MB.
  private readonly attempts: MqttAttempt[];
  // The burst in flight: a publish or command step sends the rest of its repeats at once.
  private burstSize = 0;
  private burstPending = 0;
  private sendingBurst = false;
  private burstLost = false;

  constructor(
    private readonly device: VirtualDevice,
    private readonly host: DeviceHost,
  ) {
    this.attempts = Array.from({ length: device.bound.maxBurst }, () => new MqttAttempt(this));
  }

  /**
   * Sends `count` attempts of `step` from the device's current repeat on (more than one: a burst);
   * `firstStep`: the step is its task's first, whose first attempt is timed from the task's start.
   */
  send(step: BoundStep, action: PublishAction | SubscribeAction | CommandAction, count: number, firstStep: boolean): void {
    const device = this.device;
    const host = this.host;
    this.burstSize = count;
    this.burstPending = count;
    const now = host.now();
    const firstRepeat = device.repeatIndex;
    // A publish the session refuses at once (not connected, over a broker's limit) calls back inside
    // the call: the burst is finished after the loop, not in it.
    this.sendingBurst = true;
    // One time for the whole burst, as one sensor reading sent several times.
    device.timeMs = 0;
    for (let i = 0; i < count; i++) {
      device.repeatIndex = firstRepeat + i;
      const attempt = this.attempts[i] as MqttAttempt;
      attempt.first = firstStep && device.repeatIndex === 0;
      attempt.inTask = true;
      attempt.seq = device.seq;
      renderMqttAttempt(device, attempt, action);
      attempt.timeMs = device.timeMs;
      attempt.startedAt = now;
      attempt.intendedAt = attempt.first ? device.taskIntendedAt : now;
      host.attemptStarted();
      attempt.begin(step.stats, action.timeoutMs);
      // Properties are rendered as the publish is sent, from the same seq as its topic and payload.
      this.sendAttempt(attempt, step);
      device.seq++;
    }
    // The burst's repeats are counted when it ends, as one HTTP attempt is.
    device.repeatIndex = firstRepeat;
    this.sendingBurst = false;
    if (this.burstPending === 0) this.burstEnded();
  }

  private sendAttempt(attempt: MqttAttempt, step: BoundStep): void {
    sendMqttAttempt(this.device, (this.device.link as MqttLink).session, attempt, step, this.host.delivery);
  }

  private burstEnded(): void {
    // A dying connection fails its acks before it reports the close; the next step waits a tick, by
    // when the session knows it is down, instead of publishing into the dead socket.
    const lost = this.burstLost;
    this.burstLost = false;
    this.device.mqttStepEnded(this.burstSize, lost);
  }

  /** A step's attempt or (through the device) a reaction's SUBSCRIBE ended. */
  mqttAttemptEnded(attempt: MqttAttempt, outcome: Outcome, error: string | undefined, latencyMicros: number, answered: boolean): void {
    const device = this.device;
    const host = this.host;
    if (attempt.correlation !== '') device.commands?.ended(attempt, outcome === 'timeout');
    const stats = attempt.stats as StatsEntry;
    const paced = attempt.inTask && device.pacedFirst(attempt.first);
    const late = paced && startedLate(attempt.startedAt, device.taskIntendedAt);
    const intendedMicros = paced ? latencyFromIntendedMicros(latencyMicros, device.taskIntendedAt, host.now()) : -1;
    host.onAttempt(device, stats, attempt, { outcome, error, bytesIn: 0, answered }, latencyMicros, intendedMicros, late);
    const delivery = host.delivery;
    const inbox = device.inbox;
    if (delivery) delivery.attemptEnded(device.deviceIndex, attempt, outcome === 'ok', attempt.inTask ? -1 : (inbox?.filters.indexOf(attempt.target) ?? -1));
    if (!attempt.inTask) return inbox?.subscriptionEnded(attempt);
    // An attempt that may still hear from the broker is replaced, so a late ack cannot touch the next one.
    if (!attempt.reusable) {
      const index = this.attempts.indexOf(attempt);
      if (index >= 0) this.attempts[index] = new MqttAttempt(this);
    }
    if (error !== undefined && isConnectionLoss(error)) this.burstLost = true;
    if (outcome !== 'ok' && device.sparkplug && attempt.body !== undefined && (device.stepInFlight?.spec.action as PublishAction | undefined)?.sparkplug !== undefined) device.sparkplug.lost();
    if (--this.burstPending > 0 || this.sendingBurst) return;
    this.burstEnded();
  }

  /** The session is up: subscribe what the reactions listen to, then resume a parked step. */
  sessionUp(): void {
    const device = this.device;
    const reactions = device.bound.reactions;
    const inbox = device.inbox;
    for (let i = 0; inbox && i < reactions.length; i++) {
      const reaction = reactions[i] as BoundReaction;
      const attempt = inbox.subscription(i, this.host.now());
      this.host.attemptStarted();
      attempt.begin(reaction.subscribe.stats, reaction.subscribe.spec.action.timeoutMs);
      this.sendAttempt(attempt, reaction.subscribe);
    }
    // An edge node resumes its data once it has had its birth.
    if (device.sparkplug) return device.sparkplug.sessionUp();
    device.resumeParked();
  }

  /**
   * The session dropped: what waited for an answer on it has failed, except publishes a persistent
   * session carries to the next connection (they end at their ack, or their timeout, as usual).
   */
  sessionDown(reason: string, carried: boolean): void {
    const device = this.device;
    if (!carried || device.stepInFlight?.spec.action.kind !== 'publish') for (const attempt of [...this.attempts]) attempt.fail(reason);
    device.inbox?.failSubscriptions(reason);
    device.sparkplug?.sessionDown();
  }

  /** A message arrived: the edge node's own topics and commands' replies go to them; the rest may queue a reaction. */
  message(topic: string, received: Buffer, properties?: Buffer): void {
    const device = this.device;
    const host = this.host;
    host.downlink.received++;
    if (device.sparkplug?.message(topic, received)) return;
    const inbox = device.inbox;
    const first = inbox ? inbox.match(topic) : -1;
    const replies = first >= 0 && device.commands ? device.bound.reactions[first]?.reaction : undefined;
    if (replies?.commandReplies) return (device.commands as CommandSender).reply(replies, received, properties);
    const payload = host.delivery ? host.delivery.received(device.deviceIndex, topic, received, properties, inbox?.matched) : received;
    // Sent while this device was off the network and received now: its session's queue held it.
    if (device.lifecycle && host.delivery && device.lifecycle.sentWhileDown(host.delivery.lastSentMs)) host.queuedWhileOffline?.();
    device.reactTo(first, payload, properties);
  }
}
