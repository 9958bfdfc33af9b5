import { formatDuration } from '../profile/duration.ts';
import type { Lifecycle } from '../profile/lifecycle.ts';
import type { NetworkLink, NetworkMix } from '../profile/network-presets.ts';
import type { FleetEvent } from '../profile/types.ts';

const percent = (share: number): string => `${+(share * 100).toFixed(2)}%`;

function rate(bps: number | undefined): string {
  if (bps === undefined) return 'uncapped';
  return bps >= 1_000_000 ? `${+(bps / 1_000_000).toFixed(3)} Mbit/s` : bps >= 1000 ? `${+(bps / 1000).toFixed(3)} kbit/s` : `${bps} bit/s`;
}

function describeLink(link: NetworkLink): string {
  const drops = !link.drops
    ? ''
    : link.drops.kind === 'rate'
      ? `, drops every ${formatDuration(link.drops.meanIntervalMs)} on average`
      : `, drops at ${link.drops.atMs.map(formatDuration).join(', ')}`;
  return `${link.name} (${link.latencyMs} ms${link.jitterMs > 0 ? ` ± ${link.jitterMs} ms` : ''} each way, ${rate(link.uplinkBps)} up, ${rate(link.downlinkBps)} down${drops})`;
}

/** `validate`'s lines on a fleet entry's network link and its model's lifecycle. */
export function describeField(network: NetworkMix | undefined, lifecycle: Lifecycle | undefined): string[] {
  const lines: string[] = [];
  if (network)
    lines.push(
      `    Network: ${network.length === 1 ? describeLink((network[0] as NetworkMix[number]).link) : network.map((entry) => `${percent(entry.share)} ${describeLink(entry.link)}`).join(', ')}.`,
    );
  const sleep = lifecycle?.sleep;
  const reboot = lifecycle?.reboot;
  const parts = [
    sleep ? `awake ${formatDuration(sleep.awakeMs)}, asleep ${formatDuration(sleep.asleepMs)} (± ${percent(sleep.jitter)})` : '',
    reboot ? `reboots every ${formatDuration(reboot.everyMs)} on average, ${formatDuration(reboot.bootMs)} each` : '',
  ].filter(Boolean);
  if (parts.length > 0) lines.push(`    Lifecycle: ${parts.join('; ')}.`);
  return lines;
}

/** `validate`'s line on the profile's fleet events. */
export function describeEvents(events: readonly FleetEvent[] | undefined): string[] {
  if (!events || events.length === 0) return [];
  const each = events.map((event) =>
    event.kind === 'reboot'
      ? `reboot ${percent(event.share)} at ${formatDuration(event.atMs)}${event.overMs > 0 ? ` over ${formatDuration(event.overMs)}` : ''} (${formatDuration(event.forMs)} each)`
      : `offline ${percent(event.share)} at ${formatDuration(event.atMs)}${event.overMs > 0 ? ` over ${formatDuration(event.overMs)}` : ''} for ${formatDuration(event.forMs)}`,
  );
  return [`  Events: ${each.join('; ')}.`];
}
