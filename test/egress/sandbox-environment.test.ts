// What a sandbox is given to use the egress proxy: its variables and CA files.
import { X509Certificate } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import { buildCaFiles, createSecretSet, egressEnvironment, generateCa, proxyToken, SANDBOX_CA_BUNDLE_PATH } from '../../src/egress/index.js';

describe('egress environment', () => {
  it("points every common tool at the proxy with the session's credentials and keeps loopback direct", () => {
    const env = egressEnvironment({
      port: 3128,
      token: 'tok',
      caBundlePath: '/run/ca/ca-bundle.pem',
      caCertPath: '/run/ca/hangar-ca.pem',
      secretPlaceholders: { GITHUB_TOKEN: 'hangar-secret-x' },
    });
    for (const name of ['HTTP_PROXY', 'HTTPS_PROXY', 'http_proxy', 'https_proxy', 'npm_config_proxy', 'npm_config_https_proxy'])
      expect(env[name], name).toBe('http://hangar:tok@127.0.0.1:3128');
    expect(env.NO_PROXY).toBe('127.0.0.1,localhost,::1');
    for (const name of ['SSL_CERT_FILE', 'REQUESTS_CA_BUNDLE', 'CURL_CA_BUNDLE', 'GIT_SSL_CAINFO', 'PIP_CERT', 'npm_config_cafile'])
      expect(env[name], name).toBe('/run/ca/ca-bundle.pem');
    expect(env.NODE_EXTRA_CA_CERTS).toBe('/run/ca/hangar-ca.pem');
    expect(env.GITHUB_TOKEN).toBe('hangar-secret-x');
    // The credentials round-trip through the header tools send.
    const header = `Basic ${Buffer.from('hangar:tok').toString('base64')}`;
    expect(proxyToken(header)).toBe('tok');
    expect(proxyToken(`Basic ${Buffer.from('other:tok').toString('base64')}`)).toBeUndefined();
    expect(proxyToken(undefined)).toBeUndefined();
  });

  it('refuses secrets named like the variables Hangar and the agent rely on', () => {
    for (const name of ['PATH', 'HOME', 'HTTPS_PROXY', 'no_proxy', 'NODE_OPTIONS', 'ANTHROPIC_API_KEY', 'SSL_CERT_FILE', 'LD_PRELOAD']) {
      expect(() => createSecretSet([{ name, value: 'x', hosts: ['a.test'] }]), name).toThrow(/reserved/);
    }
  });

  it("builds Hangar's CA file and a bundle of the host's CAs with it", async () => {
    const ca = await generateCa('Hangar bundle test');
    const files = await buildCaFiles(ca.certPem);
    expect(files.caCert).toBe(ca.certPem);
    expect(files.bundle.endsWith(ca.certPem)).toBe(true);
    expect((files.bundle.match(/-----BEGIN CERTIFICATE-----/g) ?? []).length).toBeGreaterThan(50);
    expect(new X509Certificate(ca.certPem).ca).toBe(true);
    expect(SANDBOX_CA_BUNDLE_PATH.startsWith('/run/hangar/files/')).toBe(true);
  });
});
