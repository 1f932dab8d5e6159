// What each request handler of one egress listener needs: its policy, the resolver, the address
// policy, where records go, and the limits.
import type { AddressPolicy } from './address-policy.js';
import type { EgressRecorder } from './audit.js';
import type { CertificateAuthority } from './certificate-authority.js';
import type { EgressPolicy } from './policy.js';
import type { Resolver } from './resolver.js';
import type { SecretSet } from './secrets.js';

export interface ProxyLimits {
  /** A tunnel or request idle this long in both directions is closed. */
  idleTimeoutMs: number;
  /** Most connections one listener (one sandbox) holds open at once. */
  maxConnections: number;
}

export const DEFAULT_PROXY_LIMITS: ProxyLimits = { idleTimeoutMs: 300_000, maxConnections: 64 };

/** What TLS interception needs: the CA to answer with, the secrets to put in, and how to verify upstreams. */
export interface Interception {
  ca: CertificateAuthority;
  secrets: SecretSet;
  /** CA certificates (PEM) to verify upstreams with instead of Node's bundled ones (tests, private mirrors). */
  upstreamCa?: string | string[];
}

export interface ProxyContext {
  policy: EgressPolicy;
  resolver: Resolver;
  addresses: AddressPolicy;
  record: EgressRecorder;
  limits: ProxyLimits;
  /** Secrets to inject, with the CA to intercept their hosts' TLS; absent: every tunnel is opaque. */
  interception?: Interception;
}
