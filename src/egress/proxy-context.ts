// What each request handler of one egress listener needs: its policy, the resolver, the address
// policy, where records go, and the limits.
import type { AddressPolicy } from './address-policy.js';
import type { EgressRecorder } from './audit.js';
import type { Interception } from './intercept.js';
import type { EgressPolicy } from './policy.js';
import type { Resolver } from './resolver.js';

export interface ProxyLimits {
  /** A tunnel or request idle this long in both directions is closed. */
  idleTimeoutMs: number;
  /** Most connections one listener (one sandbox) holds open at once. */
  maxConnections: number;
}

export const DEFAULT_PROXY_LIMITS: ProxyLimits = { idleTimeoutMs: 300_000, maxConnections: 64 };

export interface ProxyContext {
  policy: EgressPolicy;
  resolver: Resolver;
  addresses: AddressPolicy;
  record: EgressRecorder;
  limits: ProxyLimits;
  /** Secrets to inject, with the CA to intercept their hosts' TLS; absent: every tunnel is opaque. */
  interception?: Interception;
}
