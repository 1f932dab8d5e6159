// The CA files a sandbox is given when its proxy may intercept TLS: Hangar's CA alone (for Node's
// NODE_EXTRA_CA_CERTS) and a bundle of the host's CAs plus Hangar's (for OpenSSL-based tools,
// which take one file instead of their default). Written under the data directory, read-only to
// sandboxes (bound in, never writable).
import { readFile, rename, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { rootCertificates } from 'node:tls';

/** Where Debian, Fedora and Alpine keep the system bundle. */
const SYSTEM_BUNDLES = ['/etc/ssl/certs/ca-certificates.crt', '/etc/pki/tls/certs/ca-bundle.crt', '/etc/ssl/cert.pem'];

export interface CaFiles {
  /** Hangar's CA certificate (and the configured extra CAs). */
  caCertPath: string;
  /** The host's CAs and Hangar's. */
  bundlePath: string;
}

/** Writes `<dir>/hangar-ca.pem` and `<dir>/ca-bundle.pem` (0644, replaced atomically). */
export async function writeCaFiles(dir: string, caCertPem: string): Promise<CaFiles> {
  let system: string | undefined;
  for (const candidate of SYSTEM_BUNDLES) {
    system = await readFile(candidate, 'utf8').catch(() => undefined);
    if (system !== undefined) break;
  }
  const bundle = `${(system ?? rootCertificates.join('\n')).trimEnd()}\n${caCertPem}`;
  const files: CaFiles = { caCertPath: path.join(dir, 'hangar-ca.pem'), bundlePath: path.join(dir, 'ca-bundle.pem') };
  for (const [file, text] of [
    [files.caCertPath, caCertPem],
    [files.bundlePath, bundle],
  ] as const) {
    const temporary = `${file}.${process.pid}.tmp`;
    await writeFile(temporary, text, { mode: 0o644 });
    await rename(temporary, file);
  }
  return files;
}
