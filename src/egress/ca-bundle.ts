// The CA files a sandbox is given when its proxy may intercept TLS: Hangar's CA alone (for Node's
// NODE_EXTRA_CA_CERTS) and a bundle of the host's CAs plus Hangar's (for OpenSSL-based tools, which
// take one file instead of their default). Copied into each sandbox's own filesystem, read-only
// (SandboxSpec.readOnlyFiles), so no host path shows inside.
import { readFile } from 'node:fs/promises';
import { rootCertificates } from 'node:tls';

/** Where Debian, Fedora and Alpine keep the system bundle. */
const SYSTEM_BUNDLES = ['/etc/ssl/certs/ca-certificates.crt', '/etc/pki/tls/certs/ca-bundle.crt', '/etc/ssl/cert.pem'];

/** Where the files are inside a sandbox. */
export const SANDBOX_CA_CERT_PATH = '/run/hangar/files/egress/hangar-ca.pem';
export const SANDBOX_CA_BUNDLE_PATH = '/run/hangar/files/egress/ca-bundle.pem';

export interface CaFiles {
  /** Hangar's CA certificate (and the configured extra CAs). */
  caCert: string;
  /** The host's CAs and the above. */
  bundle: string;
}

/** The two files' contents: `caCertPem` alone, and the host's bundle (else Node's CAs) with it. */
export async function buildCaFiles(caCertPem: string): Promise<CaFiles> {
  let system: string | undefined;
  for (const candidate of SYSTEM_BUNDLES) {
    system = await readFile(candidate, 'utf8').catch(() => undefined);
    if (system !== undefined) break;
  }
  return { caCert: caCertPem, bundle: `${(system ?? rootCertificates.join('\n')).trimEnd()}\n${caCertPem}` };
}
