// The egress proxy end to end, used by a real agent: a scripted model has the CLI run curl inside
// its sandbox against an HTTP and an HTTPS server in a network namespace the test creates, reached
// by name through egress.hosts. Allowed hosts answer (plain, tunnelled TLS, intercepted TLS with a
// secret put in by the proxy); every other way out fails with a clear error; the sandbox never sees
// the secret; each decision is in the task's egress log.
import { once } from 'node:events';
import { writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { mkdtempSync, rmSync } from 'node:fs';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { TaskView } from '../../src/client/hangar-client.js';
import { createCertificateAuthority, generateCa } from '../../src/egress/index.js';
import { startHarness, toolResultsSent, type Harness } from '../helpers/hangar-harness.js';
import { createNetworkNamespace, type NetworkNamespace } from '../helpers/network-namespace.js';

const isRoot = process.getuid?.() === 0;
const SECRET = `REALSECRET-${Date.now()}`;

/** HTTP on 8080 and HTTPS on 8443; prints one JSON line per request (path and Authorization seen). */
const UPSTREAM = String.raw`
import http from 'node:http';
import https from 'node:https';
import tls from 'node:tls';
const handle = (scheme) => (request, response) => {
  console.log(JSON.stringify({ scheme, host: request.headers.host, path: request.url, authorization: request.headers.authorization ?? null }));
  if (request.url === '/auth') response.end(request.headers.authorization === 'Bearer ' + process.env.EXPECTED ? 'auth-ok' : 'auth-bad');
  else response.end('hello-' + scheme);
};
let open = 0;
const ready = () => { if (++open === 2) console.log('ready'); };
http.createServer(handle('plain')).listen(8080, '0.0.0.0', ready);
const contexts = { 'mirror.test': tls.createSecureContext({ cert: process.env.CERT, key: process.env.KEY }), 'tunnel.test': tls.createSecureContext({ cert: process.env.TUNNEL_CERT, key: process.env.KEY }) };
https.createServer({ cert: process.env.CERT, key: process.env.KEY, SNICallback: (name, done) => done(null, contexts[name] ?? contexts['mirror.test']) }, handle('tls')).listen(8443, '0.0.0.0', ready);
`;

describe.skipIf(!isRoot)('egress through the proxy, by a real agent', () => {
  let namespace: NetworkNamespace;
  let harness: Harness;
  let task: TaskView;
  let report: string;
  const seen: Array<{ scheme: string; host: string; path: string; authorization: string | null }> = [];
  const dir = mkdtempSync(path.join(tmpdir(), 'hangar-egress-e2e-'));

  beforeAll(async () => {
    namespace = createNetworkNamespace();
    // The mirror's certificate comes from a CA of its own, which Hangar is told to trust.
    const mirrorCa = await generateCa('Test mirror CA');
    const issuer = await createCertificateAuthority(mirrorCa);
    // Leaves of one CA share one key pair (certificate-authority.ts).
    const leaf = await issuer.leafFor('mirror.test');
    const tunnelLeaf = await issuer.leafFor('tunnel.test');
    const extraCaFile = path.join(dir, 'mirror-ca.pem');
    writeFileSync(extraCaFile, mirrorCa.certPem);
    const upstream = namespace.runNode(['--input-type=module', '-e', UPSTREAM], { CERT: leaf.certPem, TUNNEL_CERT: tunnelLeaf.certPem, KEY: leaf.keyPem, EXPECTED: SECRET });
    let buffered = '';
    upstream.stdout!.setEncoding('utf8');
    const ready = new Promise<void>((resolve) => {
      upstream.stdout!.on('data', (chunk: string) => {
        buffered += chunk;
        for (let newline = buffered.indexOf('\n'); newline !== -1; newline = buffered.indexOf('\n')) {
          const line = buffered.slice(0, newline);
          buffered = buffered.slice(newline + 1);
          if (line === 'ready') resolve();
          else if (line.startsWith('{')) seen.push(JSON.parse(line) as (typeof seen)[number]);
        }
      });
    });
    await Promise.race([ready, once(upstream, 'exit').then(() => Promise.reject(new Error('the upstream in the namespace exited')))]);

    process.env.HANGAR_TEST_EGRESS_SECRET = SECRET;
    harness = await startHarness({
      scenario: { replies: [] },
      config: {
        egress: {
          hosts: { 'mirror.test': namespace.address, 'tunnel.test': namespace.address, 'other.test': namespace.address },
          allowPrivateNetworks: [`${namespace.address}/32`],
          extraCaFile,
          secrets: { GITHUB_TOKEN: { env: 'HANGAR_TEST_EGRESS_SECRET', hosts: ['mirror.test:8443'] } },
        },
      },
    });
    const script = [
      'set +e',
      'try() { local name=$1; shift; printf "%s=%s\\n" "$name" "$("$@" 2>&1 | tr "\\n" " ")"; }',
      'try plain curl -sS -m 20 http://mirror.test:8080/hello',
      'try intercepted curl -sS -m 20 https://mirror.test:8443/hello',
      'try secret curl -sS -m 20 -H "Authorization: Bearer $GITHUB_TOKEN" https://mirror.test:8443/auth',
      'try tunnelled curl -sS -m 20 https://tunnel.test:8443/hello',
      'try denied curl -sS -m 20 https://other.test:8443/hello',
      'try metadata curl -sS -m 20 http://169.254.169.254/latest/meta-data/',
      `try direct curl -sS -m 5 --noproxy "*" http://${namespace.address}:8080/hello`,
      'try placeholder printenv GITHUB_TOKEN',
      `try leaked sh -c "env | grep -c ${SECRET}"`,
    ].join('\n');
    harness.model.setScenario({
      replies: [
        { match: { lastUserText: 'Use the network' }, content: [{ type: 'tool_use', name: 'Bash', input: { command: script, description: 'network checks', timeout: 120_000 } }] },
        { content: [{ type: 'text', text: 'network checked' }] },
      ],
    });
    task = await harness.client.runTask({
      prompt: 'Use the network.',
      allowedTools: ['Bash'],
      network: { allowedHosts: ['mirror.test:8080', 'mirror.test:8443', 'tunnel.test:8443', '169.254.169.254:80'], secrets: ['GITHUB_TOKEN'] },
    });
    report = toolResultsSent(harness.model).join('\n');
  }, 300_000);

  afterAll(async () => {
    await harness?.close();
    namespace?.remove();
    delete process.env.HANGAR_TEST_EGRESS_SECRET;
    rmSync(dir, { recursive: true, force: true });
  });

  const line = (name: string): string => new RegExp(`^${name}=(.*)$`, 'm').exec(report)?.[1]?.trim() ?? `(no ${name} line in: ${report})`;

  it('reaches allowed hosts over plain HTTP, tunnelled TLS and intercepted TLS', () => {
    expect(task.error).toBeNull();
    expect(task.result).toBe('network checked');
    expect(line('plain')).toBe('hello-plain');
    expect(line('intercepted')).toBe('hello-tls');
    expect(line('tunnelled')).toBe('hello-tls');
  });

  it('puts the secret in for its host only; the sandbox sees a placeholder', () => {
    expect(line('secret')).toBe('auth-ok');
    expect(seen.find((request) => request.path === '/auth')?.authorization).toBe(`Bearer ${SECRET}`);
    expect(line('placeholder')).toMatch(/^hangar-secret-GITHUB_TOKEN-[0-9a-f]{24}$/);
    expect(line('leaked')).toBe('0');
    expect(report).not.toContain(SECRET);
    expect(JSON.stringify(task)).not.toContain(SECRET);
  });

  it('refuses hosts not allowed, the metadata address and a way around the proxy, each with a clear error', () => {
    expect(line('denied')).toMatch(/CONNECT tunnel failed, response 403/);
    expect(line('metadata')).toMatch(/link-local/);
    expect(line('direct')).toMatch(/Failed to connect|Couldn't connect|Network is unreachable|Could not resolve/i);
    // Nothing refused reached the upstream.
    expect(seen.filter((request) => request.host?.startsWith('other.test'))).toEqual([]);
  });

  it('records every decision in the task\'s egress log', async () => {
    const log = await harness.hangar.store.egress.list(task.id, { limit: 100 });
    const summary = log.map((entry) => `${entry.method} ${entry.host}:${entry.port} ${entry.verdict}`);
    expect(summary).toEqual(
      expect.arrayContaining([
        'GET mirror.test:8080 allowed',
        'GET mirror.test:8443 allowed',
        'CONNECT tunnel.test:8443 allowed',
        'CONNECT other.test:8443 denied',
        'GET 169.254.169.254:80 denied',
      ]),
    );
    const plain = log.find((entry) => entry.host === 'mirror.test' && entry.port === 8080)!;
    expect(plain.address).toBe(namespace.address);
    expect(plain.bytesIn).toBeGreaterThan(0);
    expect(JSON.stringify(log)).not.toContain(SECRET);
  });
});
