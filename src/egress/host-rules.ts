// Host rules of an egress allowlist: `api.github.com` (that name), `*.example.com` (any name under
// example.com, not example.com itself), `example.org:8443` (that port only; without a port a rule
// allows 443 and 80), and IP literals (`203.0.113.7`, `[2001:db8::1]:443`) for a sandbox that must
// reach an address by number. Names are compared lower-case, without a trailing dot.
import { isIP } from 'node:net';

/** Ports a rule without one allows. */
export const DEFAULT_PORTS: readonly number[] = [443, 80];

export interface HostRule {
  /** The rule as written. */
  source: string;
  /** Lower-case name or IP literal; for a wildcard, the suffix after `*.`. */
  host: string;
  wildcard: boolean;
  /** The ports allowed. */
  ports: readonly number[];
}

/** Normalizes a host name or IP literal as the proxy compares it: lower case, no brackets, no trailing dot. */
export function normalizeHost(host: string): string {
  const bare = host.startsWith('[') && host.endsWith(']') ? host.slice(1, -1) : host;
  return bare.toLowerCase().replace(/\.$/, '');
}

/** True for a syntactically valid DNS name (letters, digits, hyphens, underscores; labels of 1-63; at most 253). */
export function isHostName(name: string): boolean {
  if (name.length === 0 || name.length > 253) return false;
  return name.split('.').every((label) => /^[a-z0-9_](?:[a-z0-9_-]{0,61}[a-z0-9_])?$/.test(label));
}

/** Parses one rule; throws a RangeError that names the rule and what is wrong with it. */
export function parseHostRule(source: string): HostRule {
  const text = source.trim();
  let hostPart = text;
  let port: number | undefined;
  const bracketed = /^\[([^\]]+)\](?::(\d+))?$/.exec(text);
  if (bracketed !== null) {
    hostPart = bracketed[1]!;
    if (bracketed[2] !== undefined) port = Number(bracketed[2]);
  } else if (isIP(text) !== 6) {
    const colon = text.lastIndexOf(':');
    if (colon !== -1) {
      if (!/^\d+$/.test(text.slice(colon + 1))) throw new RangeError(`invalid host rule ${JSON.stringify(source)}: the port must be a number`);
      port = Number(text.slice(colon + 1));
      hostPart = text.slice(0, colon);
    }
  }
  if (port !== undefined && !(Number.isInteger(port) && port >= 1 && port <= 65535)) {
    throw new RangeError(`invalid host rule ${JSON.stringify(source)}: the port must be 1-65535`);
  }
  const wildcard = hostPart.startsWith('*.');
  const host = normalizeHost(wildcard ? hostPart.slice(2) : hostPart);
  const ip = isIP(host) !== 0;
  if (wildcard && ip) throw new RangeError(`invalid host rule ${JSON.stringify(source)}: a wildcard needs a name, not an address`);
  if (!ip && !isHostName(host))
    throw new RangeError(`invalid host rule ${JSON.stringify(source)}: use a name (api.github.com), *.suffix, or an IP address, with an optional :port`);
  if (wildcard && !host.includes('.'))
    throw new RangeError(`invalid host rule ${JSON.stringify(source)}: a wildcard must leave at least two labels (*.example.com)`);
  return { source, host, wildcard, ports: port === undefined ? DEFAULT_PORTS : [port] };
}

/** The first rule allowing `host:port`, or undefined. `host` may be a name or an IP literal. */
export function matchHostRule(rules: readonly HostRule[], host: string, port: number): HostRule | undefined {
  const name = normalizeHost(host);
  return rules.find((rule) => rule.ports.includes(port) && (rule.wildcard ? name.endsWith(`.${rule.host}`) : name === rule.host));
}
