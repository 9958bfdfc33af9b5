import { durationAt } from './field-readers.ts';
import { KBIT, MBIT, NETWORK_PRESETS } from './network-presets.ts';
import type { NetworkLink, NetworkMix } from './network-presets.ts';
import type { NetworkLinkDoc } from './network-schema.ts';
import type { FieldPath, YamlSource } from './yaml-source.ts';

const RATE_UNITS: Readonly<Record<string, number>> = { bit: 1, kbit: KBIT, mbit: MBIT, gbit: 1000 * MBIT };

function rateAt(source: YamlSource, fieldPath: FieldPath, value: string | number | undefined): number | undefined {
  if (value === undefined) return undefined;
  if (typeof value === 'number') return value;
  const match = /^\s*(\d+(?:\.\d+)?)\s*(bit|kbit|mbit|gbit)/i.exec(value);
  const bps = match ? Number(match[1]) * (RATE_UNITS[(match[2] ?? '').toLowerCase()] ?? 1) : 0;
  if (bps < 1) throw source.error(fieldPath, `${JSON.stringify(value)} is not a bandwidth of at least 1 bit/s (e.g. 10kbit, 1.6mbit)`);
  return bps;
}

function presetAt(source: YamlSource, fieldPath: FieldPath, name: string): NetworkLink {
  const preset = Object.hasOwn(NETWORK_PRESETS, name) ? NETWORK_PRESETS[name] : undefined;
  if (!preset) throw source.error(fieldPath, `unknown network preset '${name}' (presets: ${Object.keys(NETWORK_PRESETS).join(', ')})`);
  return preset;
}

/** `70% lte-m, 30% nb-iot`, or one preset's name. */
function mixAt(source: YamlSource, fieldPath: FieldPath, text: string): NetworkMix {
  const parts = text.split(',').map((part) => part.trim());
  if (parts.length === 1 && !parts[0]?.includes('%')) return [{ share: 1, link: presetAt(source, fieldPath, text.trim()) }];
  const mix = parts.map((part) => {
    const match = /^(\d+(?:\.\d+)?)\s*%\s+(\S+)$/.exec(part);
    if (!match) throw source.error(fieldPath, `'${part}' is not a share of a preset (write a mix as "70% lte-m, 30% nb-iot")`);
    return { share: Number(match[1]) / 100, link: presetAt(source, fieldPath, match[2] ?? '') };
  });
  const total = mix.reduce((sum, entry) => sum + entry.share, 0);
  if (Math.abs(total - 1) > 1e-9) throw source.error(fieldPath, `the shares add up to ${+(total * 100).toFixed(6)}%, not 100%`);
  return mix;
}

function customAt(source: YamlSource, fieldPath: FieldPath, raw: NetworkLinkDoc): NetworkLink {
  const base = raw.preset === undefined ? undefined : presetAt(source, [...fieldPath, 'preset'], raw.preset);
  const latencyMs = durationAt(source, [...fieldPath, 'latency'], raw.latency, base?.latencyMs ?? 0);
  const jitterMs = durationAt(source, [...fieldPath, 'jitter'], raw.jitter, raw.latency === undefined ? (base?.jitterMs ?? 0) : 0);
  if (jitterMs > latencyMs) throw source.error([...fieldPath, 'jitter'], `jitter (${jitterMs} ms) must not exceed latency (${latencyMs} ms): a delay cannot be negative`);
  const dropsRaw = raw.drops;
  let drops = base?.drops;
  if (dropsRaw) {
    if ((dropsRaw.every === undefined) === (dropsRaw.at === undefined)) throw source.error([...fieldPath, 'drops'], "give one of 'every' (a rate) or 'at' (a schedule)");
    if (dropsRaw.every !== undefined) {
      const meanIntervalMs = durationAt(source, [...fieldPath, 'drops', 'every'], dropsRaw.every, 0);
      if (meanIntervalMs <= 0) throw source.error([...fieldPath, 'drops', 'every'], 'must be greater than 0');
      drops = { kind: 'rate', meanIntervalMs };
    } else {
      const atMs = (dropsRaw.at ?? []).map((value, i) => durationAt(source, [...fieldPath, 'drops', 'at', i], value, 0));
      drops = { kind: 'at', atMs: atMs.sort((a, b) => a - b) };
    }
  }
  const hasOwn = (['latency', 'jitter', 'uplink', 'downlink', 'drops'] as const).some((key) => raw[key] !== undefined);
  return {
    name: base && !hasOwn ? base.name : base ? `${base.name}*` : 'custom',
    latencyMs,
    jitterMs,
    uplinkBps: rateAt(source, [...fieldPath, 'uplink'], raw.uplink) ?? base?.uplinkBps,
    downlinkBps: rateAt(source, [...fieldPath, 'downlink'], raw.downlink) ?? base?.downlinkBps,
    drops,
  };
}

/** Reads a `network` field (already checked against `networkSchema`); undefined when absent. */
export function networkAt(source: YamlSource, fieldPath: FieldPath, raw: string | NetworkLinkDoc | undefined): NetworkMix | undefined {
  if (raw === undefined) return undefined;
  if (typeof raw === 'string') return mixAt(source, fieldPath, raw);
  return [{ share: 1, link: customAt(source, fieldPath, raw) }];
}

/**
 * The link of a fleet entry's device `position` (0-based) of `count`: the entry's devices are split
 * by share in order (70% and 30% of ten devices: the first seven and the last three), so the
 * shares hold exactly, whatever the seed, and a sharded run gives each device the same link.
 */
export function linkOf(mix: NetworkMix, position: number, count: number): NetworkLink {
  const at = (position + 0.5) / Math.max(1, count);
  let cumulative = 0;
  for (const entry of mix) {
    cumulative += entry.share;
    if (at < cumulative) return entry.link;
  }
  return (mix[mix.length - 1] as NetworkMix[number]).link;
}
