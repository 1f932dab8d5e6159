// The per-installation CA the egress proxy signs its interception certificates with. Generated on
// first use in the data directory (key 0600, certificate 0644) and trusted inside every sandbox,
// it serves only the hosts a secret is declared for: every other host is tunnelled untouched.
// ECDSA P-256 throughout (a leaf takes ~1 ms to make, RSA 2048 ~100 ms); leaves are cached per host.
import { webcrypto } from 'node:crypto';
import { mkdir, readFile, writeFile } from 'node:fs/promises';
import { hostname } from 'node:os';
import path from 'node:path';
import { isIP } from 'node:net';
import * as x509 from '@peculiar/x509';

const EC_KEY = { name: 'ECDSA', namedCurve: 'P-256' } as const;
const SIGNING = { name: 'ECDSA', hash: 'SHA-256' } as const;
const DAY_MS = 24 * 60 * 60 * 1000;
/** Leaves cached at most (least recently made go first). */
const MAX_CACHED_LEAVES = 1024;

x509.cryptoProvider.set(webcrypto as unknown as Parameters<typeof x509.cryptoProvider.set>[0]);

export interface LeafCertificate {
  certPem: string;
  keyPem: string;
}

export interface CertificateAuthority {
  /** The CA certificate (PEM) sandboxes trust. */
  readonly certPem: string;
  /** A certificate for `host` (a name or an IP literal) signed by the CA, with its key. */
  leafFor(host: string): Promise<LeafCertificate>;
}

function toPem(der: ArrayBuffer, label: string): string {
  const base64 = Buffer.from(der).toString('base64').replace(/.{64}/g, '$&\n').replace(/\n$/, '');
  return `-----BEGIN ${label}-----\n${base64}\n-----END ${label}-----\n`;
}

function fromPem(pem: string): Buffer {
  return Buffer.from(pem.replace(/-----[A-Z ]+-----/g, '').replace(/\s+/g, ''), 'base64');
}

/** Makes a new CA: a self-signed certificate that may sign leaves only (path length 0), valid ten years. */
export async function generateCa(commonName = `Hangar egress CA (${hostname()})`): Promise<{ certPem: string; keyPem: string }> {
  const keys = (await webcrypto.subtle.generateKey(EC_KEY, true, ['sign', 'verify'])) as webcrypto.CryptoKeyPair;
  const now = Date.now();
  const cert = await x509.X509CertificateGenerator.createSelfSigned({
    name: `CN=${commonName.replace(/[,=+<>#;"\\]/g, ' ')}`,
    keys,
    signingAlgorithm: SIGNING,
    notBefore: new Date(now - DAY_MS),
    notAfter: new Date(now + 3650 * DAY_MS),
    extensions: [
      new x509.BasicConstraintsExtension(true, 0, true),
      new x509.KeyUsagesExtension(x509.KeyUsageFlags.keyCertSign | x509.KeyUsageFlags.cRLSign, true),
      await x509.SubjectKeyIdentifierExtension.create(keys.publicKey),
    ],
  });
  return { certPem: cert.toString('pem') + '\n', keyPem: toPem(await webcrypto.subtle.exportKey('pkcs8', keys.privateKey), 'PRIVATE KEY') };
}

/** The CA of `dir` (`egress-ca.pem`, `egress-ca.key`), made there on first use. */
export async function loadOrCreateCa(dir: string): Promise<CertificateAuthority> {
  const certFile = path.join(dir, 'egress-ca.pem');
  const keyFile = path.join(dir, 'egress-ca.key');
  let pair: { certPem: string; keyPem: string };
  try {
    pair = { certPem: await readFile(certFile, 'utf8'), keyPem: await readFile(keyFile, 'utf8') };
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code !== 'ENOENT') throw error;
    pair = await generateCa();
    await mkdir(dir, { recursive: true, mode: 0o700 });
    // The key first, exclusively: two processes starting at once must not mix two CAs.
    await writeFile(keyFile, pair.keyPem, { mode: 0o600, flag: 'wx' });
    await writeFile(certFile, pair.certPem, { mode: 0o644, flag: 'wx' });
  }
  return createCertificateAuthority(pair);
}

/** A CA over an existing certificate and PKCS#8 key (PEM). */
export async function createCertificateAuthority(pair: { certPem: string; keyPem: string }): Promise<CertificateAuthority> {
  const caCert = new x509.X509Certificate(pair.certPem);
  const caKey = await webcrypto.subtle.importKey('pkcs8', fromPem(pair.keyPem), EC_KEY, false, ['sign']);
  // One key pair serves every leaf: the CA is what makes a leaf trusted, not the key's uniqueness.
  const leafKeys = (await webcrypto.subtle.generateKey(EC_KEY, true, ['sign', 'verify'])) as webcrypto.CryptoKeyPair;
  const leafKeyPem = toPem(await webcrypto.subtle.exportKey('pkcs8', leafKeys.privateKey), 'PRIVATE KEY');
  const authorityKeyId = await x509.AuthorityKeyIdentifierExtension.create(caCert, false);
  const cache = new Map<string, Promise<LeafCertificate>>();

  const makeLeaf = async (host: string): Promise<LeafCertificate> => {
    const now = Date.now();
    const ip = isIP(host) !== 0;
    const cert = await x509.X509CertificateGenerator.create({
      subject: `CN=${host}`,
      issuer: caCert.subject,
      publicKey: leafKeys.publicKey,
      signingKey: caKey,
      signingAlgorithm: SIGNING,
      notBefore: new Date(now - DAY_MS),
      notAfter: new Date(now + 7 * DAY_MS),
      extensions: [
        new x509.BasicConstraintsExtension(false, undefined, true),
        new x509.KeyUsagesExtension(x509.KeyUsageFlags.digitalSignature, true),
        new x509.ExtendedKeyUsageExtension([x509.ExtendedKeyUsage.serverAuth]),
        new x509.SubjectAlternativeNameExtension([{ type: ip ? 'ip' : 'dns', value: host }]),
        authorityKeyId,
      ],
    });
    return { certPem: cert.toString('pem') + '\n' + pair.certPem, keyPem: leafKeyPem };
  };

  return {
    certPem: pair.certPem,
    leafFor(host) {
      let leaf = cache.get(host);
      if (leaf === undefined) {
        leaf = makeLeaf(host);
        leaf.catch(() => cache.delete(host));
        if (cache.size >= MAX_CACHED_LEAVES) cache.delete(cache.keys().next().value as string);
        cache.set(host, leaf);
      }
      return leaf;
    },
  };
}
