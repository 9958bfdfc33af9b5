import { test } from 'node:test';
import assert from 'node:assert/strict';
import type { NetworkInterfaceInfo } from 'node:os';
import { parseLocalIps } from '../../../src/cli/local-ips.ts';
import { UsageError } from '../../../src/errors.ts';

const info = (address: string, cidr: string, internal: boolean): NetworkInterfaceInfo =>
  ({ address, cidr, internal, family: address.includes(':') ? 'IPv6' : 'IPv4', netmask: '', mac: '00:00:00:00:00:00', ...(address.includes(':') ? { scopeid: 0 } : {}) }) as NetworkInterfaceInfo;

const HOST = { lo: [info('127.0.0.1', '127.0.0.1/8', true), info('::1', '::1/128', true)], eth0: [info('10.1.2.3', '10.1.2.3/24', false), info('fd00::2', 'fd00::2/64', false)] };

test('interface addresses and any address of a loopback network are local; a neighbour on the LAN is not', () => {
  assert.deepEqual(parseLocalIps('127.0.0.1, 127.0.0.2,127.255.0.9', HOST), ['127.0.0.1', '127.0.0.2', '127.255.0.9']);
  assert.deepEqual(parseLocalIps('10.1.2.3', HOST), ['10.1.2.3']);
  assert.deepEqual(parseLocalIps('fd00:0:0:0:0:0:0:2,::1', HOST), ['fd00:0:0:0:0:0:0:2', '::1']);
  assert.equal(parseLocalIps(undefined, HOST), undefined);
  // In eth0's subnet but not this host's: binding to it would fail with EADDRNOTAVAIL.
  assert.throws(() => parseLocalIps('10.1.2.4', HOST), /--local-ips: 10\.1\.2\.4 is not an address of this host's interfaces \(they have 127\.0\.0\.1, ::1, 10\.1\.2\.3, fd00::2\)/);
  assert.throws(() => parseLocalIps('128.0.0.1', HOST), UsageError);
});

test('malformed lists, repeats and mixed families are refused as usage errors', () => {
  for (const [text, message] of [
    ['127.0.0.1,', /expected addresses separated by commas/],
    ['localhost', /'localhost' is not an IP address/],
    ['127.0.0.1,127.0.0.1', /127\.0\.0\.1 is listed twice/],
    ['127.0.0.1,::1', /mixes IPv4 and IPv6/],
  ] as const) {
    assert.throws(
      () => parseLocalIps(text, HOST),
      (error: unknown) => error instanceof UsageError && message.test(error.message),
      text,
    );
  }
});
