// The egress proxy: what a sandbox may reach besides the model gateway. Default deny; a task or
// session allows hosts by name (`network.allowedHosts`, `network.presets`); the proxy resolves
// names itself, never dials a private, loopback, link-local or host address, checks that a tunnel's
// TLS server name is the host it was opened for, and records every decision.
//   host-rules.ts  presets.ts  policy.ts     what a task or session allows (pure)
//   address-policy.ts  resolver.ts  dial.ts   which addresses may be dialed, and dialing them
//   client-hello.ts                            the SNI of a TLS ClientHello (pure)
//   connect-tunnel.ts  http-forward.ts         CONNECT tunnels and plain http:// requests
//   secrets.ts  certificate-authority.ts  intercept.ts   secrets kept out of sandboxes: placeholders
//                                               inside, TLS interception for their hosts only
//   declared-secrets.ts  secret-sealing.ts       secrets a task or session declares with values:
//                                               records keep them without values, the store sealed
//   egress-proxy.ts  proxy-context.ts  audit.ts  one proxy for all sandboxes: sessions by token,
//                                               their limits and records
//   sandbox-environment.ts  ca-bundle.ts         what a sandbox is given to use it
//   sandbox-egress.ts  audit-writer.ts           what tasks and sessions use: register, env, records
//   start-egress.ts                              the CA, its files, the proxy and its records, started
export { createAddressPolicy, parseCidr, type AddressPolicy, type AddressPolicySettings } from './address-policy.js';
export type { EgressRecord, EgressRecorder, EgressVerdict } from './audit.js';
export { createCertificateAuthority, generateCa, loadOrCreateCa, type CertificateAuthority, type LeafCertificate } from './certificate-authority.js';
export { parseClientHello, type ClientHelloResult } from './client-hello.js';
export type { Interception } from './proxy-context.js';
export {
  createSecretSet,
  secretInjectionProblem,
  secretNameProblem,
  secretValueProblem,
  type EgressSecret,
  type SecretInjection,
  type SecretSet,
} from './secrets.js';
export { declaredSecrets, withoutSecretValues, type RecordedSecretEntry, type SecretDeclaration, type SecretEntry } from './declared-secrets.js';
export { createSecretSealer, loadOrCreateSecretsKey, SECRETS_KEY_FILE, type SecretSealer } from './secret-sealing.js';
export { matchHostRule, parseHostRule, type HostRule } from './host-rules.js';
export { createEgressPolicy, type EgressMode, type EgressPolicy, type NetworkSettings } from './policy.js';
export { EGRESS_PRESET_NAMES, EGRESS_PRESETS, type EgressPresetName } from './presets.js';
export { DEFAULT_PROXY_LIMITS, type ProxyLimits } from './proxy-context.js';
export { PROXY_USER, proxyToken, startEgressProxy, type EgressProxy, type EgressProxySettings, type EgressRegistration } from './egress-proxy.js';
export { buildCaFiles, SANDBOX_CA_BUNDLE_PATH, SANDBOX_CA_CERT_PATH, type CaFiles } from './ca-bundle.js';
export { egressEnvironment, type EgressEnvironmentSettings } from './sandbox-environment.js';
export { createSandboxEgress, type SandboxEgress, type SandboxNetwork } from './sandbox-egress.js';
export { createTenantSecrets, MAX_TENANT_SECRETS, type TenantSecretInfo, type TenantSecrets } from './tenant-secrets.js';
export { createEgressAuditWriter, type EgressAuditWriter } from './audit-writer.js';
export { startEgress, type StartedEgress } from './start-egress.js';
export { createResolver, type Resolver } from './resolver.js';
