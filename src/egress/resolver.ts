// Name resolution for the egress proxy: the static map of `egress.hosts` first (like /etc/hosts, for
// tests and air-gapped mirrors), else the system resolver, bounded in time. The proxy dials only an
// address this returned and the address policy accepted, so a name that resolves to a private
// address one moment and a public one the next (DNS rebinding) is judged by what is dialed.
import { lookup } from 'node:dns/promises';
import { isIP } from 'node:net';
import { normalizeHost } from './host-rules.js';

/** Most time a lookup may take. */
export const RESOLVE_TIMEOUT_MS = 5000;

export interface Resolver {
  /** The addresses of a name (an IP literal resolves to itself); rejects when there are none. */
  resolve(host: string): Promise<string[]>;
}

export type LookupAll = (host: string) => Promise<string[]>;

const systemLookup: LookupAll = async (host) => (await lookup(host, { all: true, verbatim: true })).map((entry) => entry.address);

export function createResolver(settings: { hosts?: Record<string, string | readonly string[]>; lookup?: LookupAll; timeoutMs?: number } = {}): Resolver {
  const hosts = new Map<string, string[]>();
  for (const [name, value] of Object.entries(settings.hosts ?? {})) {
    const addresses = typeof value === 'string' ? [value] : [...value];
    for (const address of addresses)
      if (isIP(address) === 0) throw new RangeError(`egress.hosts: ${JSON.stringify(address)} (for ${name}) is not an IP address`);
    hosts.set(normalizeHost(name), addresses);
  }
  const lookupAll = settings.lookup ?? systemLookup;
  const timeoutMs = settings.timeoutMs ?? RESOLVE_TIMEOUT_MS;
  return {
    async resolve(host) {
      const name = normalizeHost(host);
      if (isIP(name) !== 0) return [name];
      const fixed = hosts.get(name);
      if (fixed !== undefined) return [...fixed];
      let timer: NodeJS.Timeout | undefined;
      const timeout = new Promise<never>((_, reject) => {
        timer = setTimeout(() => reject(new Error(`resolving ${name} took over ${timeoutMs} ms`)), timeoutMs);
      });
      try {
        const addresses = await Promise.race([lookupAll(name), timeout]);
        if (addresses.length === 0) throw new Error(`${name} has no address`);
        return addresses;
      } finally {
        clearTimeout(timer);
      }
    },
  };
}
