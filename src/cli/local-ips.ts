import { BlockList, isIP } from 'node:net';
import { networkInterfaces } from 'node:os';
import type { NetworkInterfaceInfo } from 'node:os';
import { UsageError } from '../errors.ts';
import { last } from '../run/overrides.ts';
import type { FlagValue } from '../run/overrides.ts';

type Interfaces = NodeJS.Dict<NetworkInterfaceInfo[]>;

/** One spelling per address (IPv6 has many: ::1 and 0:0:0:0:0:0:0:1). */
function normalized(address: string): string {
  return isIP(address) === 6 ? new URL(`http://[${address}]`).hostname.slice(1, -1) : address;
}

/**
 * Whether this host can send from `address`: one of its interfaces' addresses, or any address of a
 * loopback interface's network (Linux answers for all of 127.0.0.0/8 on `lo`, though only
 * 127.0.0.1 is listed).
 */
function isLocal(address: string, interfaces: Interfaces): boolean {
  const family = isIP(address) === 6 ? 'ipv6' : 'ipv4';
  for (const infos of Object.values(interfaces)) {
    for (const info of infos ?? []) {
      if (normalized(info.address) === normalized(address)) return true;
      if (!info.internal || info.cidr === null || info.family.toLowerCase() !== family) continue;
      const [network, bits] = info.cidr.split('/');
      const loopback = new BlockList();
      loopback.addSubnet(network ?? '', Number(bits), family);
      if (loopback.check(address, family)) return true;
    }
  }
  return false;
}

/**
 * `--local-ips A,B,…`: the source addresses devices bind their connections to, round-robin by
 * device index. Each must be an address of this host, or the connections would fail one by one
 * (EADDRNOTAVAIL) instead of the run refusing to start.
 */
export function parseLocalIps(value: FlagValue, interfaces: Interfaces = networkInterfaces()): string[] | undefined {
  const text = last(value);
  if (text === undefined) return undefined;
  const addresses = text.split(',').map((part) => part.trim());
  if (addresses.some((address) => address === '')) throw new UsageError(`--local-ips: expected addresses separated by commas, e.g. 10.0.0.5,10.0.0.6; got '${text}'`);
  const seen = new Set<string>();
  for (const address of addresses) {
    if (isIP(address) === 0) throw new UsageError(`--local-ips: '${address}' is not an IP address`);
    if (seen.has(address)) throw new UsageError(`--local-ips: ${address} is listed twice`);
    seen.add(address);
    if (!isLocal(address, interfaces)) {
      const known = Object.values(interfaces).flatMap((infos) => (infos ?? []).map((info) => info.address));
      throw new UsageError(`--local-ips: ${address} is not an address of this host's interfaces (they have ${known.join(', ') || 'none'})`);
    }
  }
  const families = new Set(addresses.map((address) => isIP(address)));
  if (families.size > 1) throw new UsageError(`--local-ips: mixes IPv4 and IPv6 addresses; a connection's source and destination share a family`);
  return addresses;
}
