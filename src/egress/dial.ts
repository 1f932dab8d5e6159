// Resolves a host and connects to the first address the address policy accepts, bounded in time.
// Addresses the policy refuses are never dialed, whatever order the resolver gave them in. Writes go
// out at once (TCP_NODELAY): the client already chose how to cut its bytes, and Nagle's wait for an
// ACK would stall a handshake's second flight. A byte tunnel passes `onread` so the connection reads
// into one buffer of its own (relay.ts).
import { connect, type Socket } from 'node:net';
import type { AddressPolicy } from './address-policy.js';
import type { Resolver } from './resolver.js';

/** Most time one TCP connect may take. */
export const CONNECT_TIMEOUT_MS = 10_000;

export type DialOutcome = { ok: true; socket: Socket; address: string } | { ok: false; reason: string; status: 403 | 502 | 504 };

export interface DialOptions {
  timeoutMs?: number;
  /** Node's `onread`: reads go into this buffer and to this callback instead of 'data' events. */
  onread?: { buffer: Buffer; callback: (length: number, buffer: Buffer) => boolean };
}

export async function dial(host: string, port: number, resolver: Resolver, addresses: AddressPolicy, options: DialOptions = {}): Promise<DialOutcome> {
  const timeoutMs = options.timeoutMs ?? CONNECT_TIMEOUT_MS;
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
    const outcome = await connectOnce(address, port, timeoutMs, options.onread);
    if (outcome instanceof Error) {
      lastError = outcome.message;
      continue;
    }
    return { ok: true, socket: outcome, address };
  }
  return { ok: false, reason: `cannot connect to ${host}:${port}: ${lastError}`, status: lastError.includes('timed out') ? 504 : 502 };
}

function connectOnce(address: string, port: number, timeoutMs: number, onread: DialOptions['onread']): Promise<Socket | Error> {
  return new Promise((resolve) => {
    const socket = connect({ host: address, port, noDelay: true, ...(onread !== undefined ? { onread } : {}) });
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
