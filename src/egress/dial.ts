// Resolves a host and connects to the first address the address policy accepts, bounded in time.
// Addresses the policy refuses are never dialed, whatever order the resolver gave them in.
import { connect, type Socket } from 'node:net';
import type { AddressPolicy } from './address-policy.js';
import type { Resolver } from './resolver.js';

/** Most time one TCP connect may take. */
export const CONNECT_TIMEOUT_MS = 10_000;

export type DialOutcome = { ok: true; socket: Socket; address: string } | { ok: false; reason: string; status: 403 | 502 | 504 };

export async function dial(host: string, port: number, resolver: Resolver, addresses: AddressPolicy, timeoutMs = CONNECT_TIMEOUT_MS): Promise<DialOutcome> {
  let resolved: string[];
  try {
    resolved = await resolver.resolve(host);
  } catch (error) {
    return { ok: false, reason: `cannot resolve ${host}: ${(error as Error).message}`, status: 502 };
  }
  const refusals: string[] = [];
  const usable = resolved.filter((address) => {
    const verdict = addresses.check(address);
    if (!verdict.allowed) refusals.push(verdict.reason);
    return verdict.allowed;
  });
  if (usable.length === 0) return { ok: false, reason: `${host} resolves only to refused addresses: ${refusals.join('; ')}`, status: 403 };
  let lastError = '';
  for (const address of usable) {
    const outcome = await connectOnce(address, port, timeoutMs);
    if (outcome instanceof Error) {
      lastError = outcome.message;
      continue;
    }
    return { ok: true, socket: outcome, address };
  }
  return { ok: false, reason: `cannot connect to ${host}:${port}: ${lastError}`, status: lastError.includes('timed out') ? 504 : 502 };
}

function connectOnce(address: string, port: number, timeoutMs: number): Promise<Socket | Error> {
  return new Promise((resolve) => {
    const socket = connect({ host: address, port });
    const timer = setTimeout(() => {
      socket.destroy();
      resolve(new Error(`connect to ${address}:${port} timed out after ${timeoutMs} ms`));
    }, timeoutMs);
    socket.once('connect', () => {
      clearTimeout(timer);
      socket.removeAllListeners('error');
      resolve(socket);
    });
    socket.once('error', (error) => {
      clearTimeout(timer);
      resolve(error);
    });
  });
}
