// The address policy: what the egress proxy may dial whatever a name resolves to.
import { describe, expect, it } from 'vitest';
import { createAddressPolicy, parseCidr } from '../../src/egress/index.js';

describe('address policy', () => {
  const policy = createAddressPolicy({ hostAddresses: ['198.19.5.5'] });

  it("refuses loopback, private, link-local, multicast, reserved and the host's own addresses", () => {
    const refused: Record<string, RegExp> = {
      '127.0.0.1': /loopback/,
      '127.8.9.10': /loopback/,
      '::1': /loopback/,
      '::ffff:127.0.0.1': /loopback/,
      '10.1.2.3': /private/,
      '172.20.0.1': /private/,
      '192.168.1.1': /private/,
      'fd12::1': /private/,
      '100.64.0.1': /shared address space/,
      '169.254.169.254': /link-local/,
      'fe80::1': /link-local/,
      '224.0.0.1': /multicast/,
      'ff02::1': /multicast/,
      '0.0.0.0': /unspecified/,
      '255.255.255.255': /reserved/,
      '::': /unspecified/,
      '198.19.5.5': /address of the host/,
      'not-an-ip': /not an IP address/,
    };
    for (const [address, reason] of Object.entries(refused)) {
      const verdict = policy.check(address);
      expect(verdict.allowed, address).toBe(false);
      if (!verdict.allowed) expect(verdict.reason, address).toMatch(reason);
    }
  });

  it('allows public addresses', () => {
    for (const address of ['8.8.8.8', '1.1.1.1', '2606:4700:4700::1111', '::ffff:8.8.4.4']) expect(policy.check(address), address).toEqual({ allowed: true });
  });

  it('allows private networks named in allowPrivateNetworks, but never link-local or the host', () => {
    const mirror = createAddressPolicy({ allowPrivateNetworks: ['10.20.0.0/16', '169.254.0.0/16', 'fd00::/8'], hostAddresses: ['10.20.0.1'] });
    expect(mirror.check('10.20.3.4')).toEqual({ allowed: true });
    expect(mirror.check('fd00::5')).toEqual({ allowed: true });
    expect(mirror.check('10.21.0.1').allowed).toBe(false);
    expect(mirror.check('169.254.169.254').allowed).toBe(false);
    expect(mirror.check('10.20.0.1').allowed).toBe(false);
  });

  it('parses CIDRs and refuses bad ones', () => {
    expect(parseCidr('10.0.0.0/8')).toEqual({ network: '10.0.0.0', prefix: 8, family: 'ipv4' });
    expect(parseCidr('fd00::/8')).toEqual({ network: 'fd00::', prefix: 8, family: 'ipv6' });
    for (const bad of ['10.0.0.0', '10.0.0.0/33', 'fd00::/129', 'example.com/8', '']) expect(() => parseCidr(bad), bad).toThrow(/invalid CIDR/);
  });
});
