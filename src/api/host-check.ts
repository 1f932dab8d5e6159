// The Host header check that stops DNS rebinding: a web page whose name the attacker re-points at
// 127.0.0.1 can make a browser send requests to a loopback-bound Hangar, but the browser still sends
// the attacker's name as Host. A loopback-bound server (or one given server.allowedHosts) answers only
// requests that name it by one of its configured names. Pure functions; server.ts adds the hook.
import { isIP } from 'node:net';

/** Names a loopback-bound API answers to when server.allowedHosts is not set. */
export const DEFAULT_LOOPBACK_HOST_NAMES: readonly string[] = ['localhost', '127.0.0.1', '[::1]'];

/** True for `localhost`, 127.0.0.0/8 and ::1 (with or without brackets). */
export function isLoopbackHost(host: string): boolean {
  const name = host.toLowerCase().replace(/^\[(.*)\]$/, '$1');
  if (name === 'localhost' || name.endsWith('.localhost')) return true;
  if (isIP(name) === 4) return name.startsWith('127.');
  if (isIP(name) === 6) return name === '::1' || name === '0:0:0:0:0:0:0:1';
  return false;
}

/**
 * The names to check Host against, or undefined when no check applies: an explicit allowedHosts list
 * always applies; otherwise a server bound to loopback answers to the default loopback names.
 */
export function allowedHostNames(bindHost: string, allowedHosts: readonly string[] | undefined): readonly string[] | undefined {
  if (allowedHosts !== undefined) return allowedHosts;
  return isLoopbackHost(bindHost) ? DEFAULT_LOOPBACK_HOST_NAMES : undefined;
}

/** Splits a Host header into a lower-case name (IPv6 kept in brackets, trailing dot dropped) and a port. */
export function parseHostHeader(value: string): { name: string; port: number | undefined } | undefined {
  const match = /^(\[[0-9a-fA-F:.]+\]|[^:[\]\s/@]+)(?::(\d{1,5}))?$/.exec(value.trim());
  if (match === null) return undefined;
  const name = (match[1] as string).toLowerCase().replace(/\.$/, '');
  if (name === '') return undefined;
  return { name, port: match[2] === undefined ? undefined : Number(match[2]) };
}

/**
 * Whether a request's Host header names this server. An allowed entry without a port matches that
 * name at the port the server listens on (no port in Host means 80); an entry with a port matches
 * exactly. `listeningPort` undefined (not listening, e.g. injected requests) skips the port check.
 */
export function isAllowedHost(header: string | undefined, allowed: readonly string[], listeningPort: number | undefined): boolean {
  if (header === undefined) return false;
  const host = parseHostHeader(header);
  if (host === undefined) return false;
  const port = host.port ?? 80;
  for (const entry of allowed) {
    const wanted = parseHostHeader(entry);
    if (wanted === undefined || wanted.name !== host.name) continue;
    if (wanted.port !== undefined) {
      if (wanted.port === port) return true;
    } else if (listeningPort === undefined || listeningPort === port) {
      return true;
    }
  }
  return false;
}
