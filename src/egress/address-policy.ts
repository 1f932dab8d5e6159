// Which addresses the egress proxy may dial. Whatever a name resolves to, the proxy refuses
// loopback, private, shared (CGNAT), link-local (the 169.254.169.254 metadata service), multicast,
// unspecified, broadcast, documentation and other reserved ranges, and every address of the host's
// own interfaces, unless a CIDR of `egress.allowPrivateNetworks` covers the address (an on-premises
// mirror); the host's own addresses and the metadata range are refused even then.
import { BlockList, isIP } from 'node:net';
import { networkInterfaces } from 'node:os';

/** Ranges no sandbox may reach, with why (IANA special-purpose registries, v4 and v6). */
const REFUSED_RANGES: ReadonlyArray<readonly [network: string, prefix: number, family: 'ipv4' | 'ipv6', reason: string]> = [
  ['0.0.0.0', 8, 'ipv4', 'unspecified'],
  ['10.0.0.0', 8, 'ipv4', 'private'],
  ['100.64.0.0', 10, 'ipv4', 'shared address space'],
  ['127.0.0.0', 8, 'ipv4', 'loopback'],
  ['169.254.0.0', 16, 'ipv4', 'link-local'],
  ['172.16.0.0', 12, 'ipv4', 'private'],
  ['192.0.0.0', 24, 'ipv4', 'reserved'],
  ['192.0.2.0', 24, 'ipv4', 'documentation'],
  ['192.88.99.0', 24, 'ipv4', 'reserved'],
  ['192.168.0.0', 16, 'ipv4', 'private'],
  ['198.18.0.0', 15, 'ipv4', 'benchmarking'],
  ['198.51.100.0', 24, 'ipv4', 'documentation'],
  ['203.0.113.0', 24, 'ipv4', 'documentation'],
  ['224.0.0.0', 4, 'ipv4', 'multicast'],
  ['240.0.0.0', 4, 'ipv4', 'reserved'],
  ['::', 128, 'ipv6', 'unspecified'],
  ['::1', 128, 'ipv6', 'loopback'],
  ['::', 96, 'ipv6', 'reserved (IPv4-compatible)'],
  ['64:ff9b:1::', 48, 'ipv6', 'reserved'],
  ['100::', 64, 'ipv6', 'reserved'],
  ['2001::', 23, 'ipv6', 'reserved'],
  ['2001:db8::', 32, 'ipv6', 'documentation'],
  ['fc00::', 7, 'ipv6', 'private'],
  ['fe80::', 10, 'ipv6', 'link-local'],
  ['ff00::', 8, 'ipv6', 'multicast'],
];

/** Ranges refused even inside `allowPrivateNetworks`: cloud metadata lives here. */
const ALWAYS_REFUSED: ReadonlyArray<readonly [string, number, 'ipv4' | 'ipv6']> = [
  ['169.254.0.0', 16, 'ipv4'],
  ['fe80::', 10, 'ipv6'],
];

export type AddressVerdict = { allowed: true } | { allowed: false; reason: string };

export interface AddressPolicy {
  /** Whether the proxy may dial `address` (an IP literal; IPv4-mapped IPv6 is judged as IPv4). */
  check(address: string): AddressVerdict;
}

export interface AddressPolicySettings {
  /** CIDRs (`10.20.0.0/16`, `fd00::/8`) the proxy may dial although they are private. */
  allowPrivateNetworks?: readonly string[];
  /** The host's own addresses; default: every address of its interfaces now. */
  hostAddresses?: readonly string[];
}

/** Parses `a.b.c.d/n` or `x::/n`; throws a RangeError naming the bad entry. */
export function parseCidr(cidr: string): { network: string; prefix: number; family: 'ipv4' | 'ipv6' } {
  const match = /^([^/]+)\/(\d{1,3})$/.exec(cidr.trim());
  const version = match === null ? 0 : isIP(match[1]!);
  const prefix = match === null ? NaN : Number(match[2]);
  if (match === null || version === 0 || prefix > (version === 4 ? 32 : 128)) {
    throw new RangeError(`invalid CIDR ${JSON.stringify(cidr)}: use a.b.c.d/n or an IPv6 prefix like fd00::/8`);
  }
  return { network: match[1]!, prefix, family: version === 4 ? 'ipv4' : 'ipv6' };
}

/** The IPv4 address inside an IPv4-mapped IPv6 address (::ffff:a.b.c.d), else the address as given. */
export function unmapIpv4(address: string): string {
  const mapped = /^::ffff:(\d+\.\d+\.\d+\.\d+)$/i.exec(address);
  return mapped === null ? address : mapped[1]!;
}

/** Every address of the host's interfaces. */
export function readHostAddresses(): string[] {
  return Object.values(networkInterfaces())
    .flatMap((entries) => entries ?? [])
    .map((entry) => entry.address.replace(/%.*$/, ''));
}

export function createAddressPolicy(settings: AddressPolicySettings = {}): AddressPolicy {
  const allowed = new BlockList();
  for (const cidr of settings.allowPrivateNetworks ?? []) {
    const { network, prefix, family } = parseCidr(cidr);
    allowed.addSubnet(network, prefix, family);
  }
  const always = new BlockList();
  for (const [network, prefix, family] of ALWAYS_REFUSED) always.addSubnet(network, prefix, family);
  const own = new Set((settings.hostAddresses ?? readHostAddresses()).map((address) => unmapIpv4(address).toLowerCase()));
  const ranges = REFUSED_RANGES.map(([network, prefix, family, reason]) => {
    const list = new BlockList();
    list.addSubnet(network, prefix, family);
    return { list, family, reason };
  });
  return {
    check(input) {
      const address = unmapIpv4(input).toLowerCase();
      const version = isIP(address);
      if (version === 0) return { allowed: false, reason: `not an IP address: ${input}` };
      const family = version === 4 ? 'ipv4' : 'ipv6';
      if (own.has(address)) return { allowed: false, reason: `${address} is an address of the host` };
      if (always.check(address, family)) return { allowed: false, reason: `${address} is link-local (metadata services live there)` };
      if (allowed.check(address, family)) return { allowed: true };
      // IPv6 forms that embed an IPv4 address (NAT64, 6to4, Teredo...) fall in the reserved ranges above.
      for (const range of ranges) {
        if (range.family === family && range.list.check(address, family)) return { allowed: false, reason: `${address} is ${range.reason}` };
      }
      return { allowed: true };
    },
  };
}
