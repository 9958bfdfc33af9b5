import { linkRandom } from '../../identity/rng.ts';
import { linkOf } from '../../profile/network.ts';
import type { NetworkLink, NetworkMix } from '../../profile/network-presets.ts';
import type { FleetEntry } from '../../profile/types.ts';
import type { LinkConditions, LinkMeter } from '../../transport/link/link-conditions.ts';

/**
 * Each device's simulated network link, from its fleet entry's `network` (else its model's): the
 * entry's devices split by share in their order within the entry, each with its own seeded stream
 * for jitter and drops. Built when the device first connects, once the run's clock has started
 * (scheduled drops are run times).
 */
export class DeviceLinks {
  /** Whether any device of the run has a link: without one, nothing here is asked per device. */
  readonly any: boolean;
  private readonly mixes: (NetworkMix | undefined)[];
  private readonly byDevice = new Map<number, LinkConditions | null>();
  /** The clock time the run started at: scheduled drops are offsets from it. */
  startClock = 0;

  constructor(
    private readonly fleet: readonly FleetEntry[],
    private readonly layout: Uint16Array,
    private readonly ordinals: Uint32Array,
    private readonly seed: string,
  ) {
    this.mixes = fleet.map((entry) => entry.network ?? entry.model.network);
    this.any = this.mixes.some((mix) => mix !== undefined);
  }

  /** The declared link of device `index`, or undefined. */
  declared(index: number): NetworkLink | undefined {
    const entry = this.layout[index] ?? 0;
    const mix = this.mixes[entry];
    return mix && linkOf(mix, this.ordinals[index] ?? 0, this.fleet[entry]?.count ?? 1);
  }

  /** The conditions device `index`'s sockets are shaped by (the same object each time), or undefined. */
  conditionsFor(index: number): LinkConditions | undefined {
    if (!this.any) return undefined;
    const known = this.byDevice.get(index);
    if (known !== undefined) return known ?? undefined;
    const link = this.declared(index);
    const conditions: LinkConditions | undefined = link && {
      name: link.name,
      latencyMs: link.latencyMs,
      jitterMs: link.jitterMs,
      uplinkBps: link.uplinkBps,
      downlinkBps: link.downlinkBps,
      drops: link.drops?.kind === 'at' ? { kind: 'at', atMs: link.drops.atMs.map((ms) => this.startClock + ms) } : link.drops,
      random: linkRandom(this.seed, index),
      meter: { uplinkMs: 0, downlinkMs: 0 },
    };
    this.byDevice.set(index, conditions ?? null);
    return conditions;
  }

  /** What the link added to the device's latest exchange, in microseconds: its last bytes' delay each way; -1 without a link. */
  addedMicros(index: number): number {
    const meter: LinkMeter | undefined = this.any ? this.byDevice.get(index)?.meter : undefined;
    return meter ? (meter.uplinkMs + meter.downlinkMs) * 1000 : -1;
  }
}
