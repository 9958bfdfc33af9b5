import { deviceRandom } from '../../identity/rng.ts';
import { SparkplugTally } from '../../metrics/sparkplug.ts';
import type { StatsEntry } from '../../metrics/stats.ts';
import type { FleetEntry, RunPlan } from '../../profile/types.ts';
import type { BoundModel } from '../device/bound-model.ts';
import { VirtualDevice } from '../device/device.ts';
import type { DeviceHost } from '../device/device-host.ts';
import { CommandRoutes, CommandSender } from '../mqtt/commands.ts';
import { MqttLink } from '../mqtt/mqtt-link.ts';
import type { LinkHost } from '../mqtt/mqtt-link.ts';
import { sessionOptionsFor } from '../mqtt/session-options.ts';
import { SparkplugNode } from '../mqtt/sparkplug/node.ts';
import type { DeviceTlsResolver } from '../mqtt/tls-files.ts';
import type { DeviceLinks } from './device-links.ts';
import { dataRow } from './fleet-layout.ts';

/** What a fleet's devices are made from: each entry's bound model, identities and data rows, and the MQTT session settings. */
export interface DeviceMaterials {
  readonly plan: RunPlan;
  /** Each global index's fleet entry. */
  readonly layout: Uint16Array;
  /** Each device's place in its fleet entry: its row of the entry's data file. */
  readonly ordinals: Uint32Array;
  readonly bound: readonly BoundModel[];
  readonly idOf: readonly ((index: number) => string)[];
  /** Each entry's CONNECT row, when its model keeps an MQTT session. */
  readonly connectStats: readonly (StatsEntry | undefined)[];
  readonly broker: URL | undefined;
  readonly mqttTls: DeviceTlsResolver | undefined;
  readonly links: DeviceLinks;
}

/**
 * Makes one virtual device with what its model asks for (a Sparkplug node, a command sender, an
 * MQTT session, a link of its own), not yet started. The tallies the devices share across the fleet
 * are made with the first device that needs them.
 */
export class DeviceFactory {
  /** Every Sparkplug edge node's births, deaths and seq, once some device is a node. */
  sparkplug: SparkplugTally | undefined;
  /** Who commands reach and the replies that matched no command, once some model sends commands. */
  commands: CommandRoutes | undefined;

  constructor(private readonly materials: DeviceMaterials) {}

  /** A device started again after the shape stopped it is a new one with the same identity and stream. */
  make(index: number, host: DeviceHost & LinkHost): VirtualDevice {
    const { plan, layout, ordinals, links } = this.materials;
    const entry = layout[index] ?? 0;
    const bound = this.materials.bound[entry] as BoundModel;
    const idOf = this.materials.idOf[entry] as (index: number) => string;
    const device = new VirtualDevice(index, idOf(index), bound, deviceRandom(plan.seed, index), host);
    device.data = dataRow(plan.fleet[entry] as FleetEntry, ordinals[index] ?? 0);
    // After its data row: the node and device ids may read it.
    if (bound.sparkplug) device.sparkplug = new SparkplugNode(bound.sparkplug, device, (this.sparkplug ??= new SparkplugTally()));
    if (bound.commands) {
      this.commands ??= new CommandRoutes(plan.fleet, layout, this.materials.idOf);
      device.commands = new CommandSender(device, this.commands, ordinals[index] ?? 0, plan.fleet[entry]?.count ?? 1, bound.model.mqtt?.protocolVersion === 5);
    }
    const mqtt = bound.model.mqtt;
    if (mqtt) {
      // Reconnect jitter has its own stream, so a lost connection never shifts what the device sends.
      const session = sessionOptionsFor(this.materials.broker as URL, this.materials.mqttTls, plan.localAddresses ?? [], device, mqtt);
      const link = links.conditionsFor(index);
      device.link = new MqttLink(device, this.materials.connectStats[entry] as StatsEntry, link ? { ...session, link } : session, mqtt.reconnect, plan.seed, host);
    }
    if (links.any) device.ownHttpConnection = links.conditionsFor(index) !== undefined;
    return device;
  }
}
