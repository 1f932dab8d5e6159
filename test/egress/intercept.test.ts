// Secrets kept out of sandboxes: the client (standing for the sandbox) knows only a placeholder and
// trusts only Hangar's CA; the upstream, an HTTPS server with a certificate of its own CA, sees the
// real value; the proxy verifies the upstream's certificate.
import { once } from 'node:events';
import { mkdtemp, readFile, rm, stat } from 'node:fs/promises';
import { request as httpRequest, type IncomingHttpHeaders } from 'node:http';
import { createServer as createHttpsServer, request as httpsRequest } from 'node:https';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { connect as tlsConnect } from 'node:tls';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { connectThrough, proxyAuth, textAnswer } from '../helpers/proxy-client.js';
import {
  createAddressPolicy,
  createCertificateAuthority,
  createResolver,
  generateCa,
  loadOrCreateCa,
  startEgressProxy,
  type CertificateAuthority,
  type EgressProxy,
  type EgressRecord,
  type EgressSecret,
} from '../../src/egress/index.js';

let dir: string;
let hangarCa: CertificateAuthority;
let upstreamCaPem: string;
let server: ReturnType<typeof createHttpsServer>;
let port: number;
const seen: IncomingHttpHeaders[] = [];
const proxies: EgressProxy[] = [];
const recordsBySession = new Map<string, EgressRecord[]>();
let sessions = 0;

beforeAll(async () => {
  dir = await mkdtemp(path.join(tmpdir(), 'hangar-intercept-'));
  hangarCa = await createCertificateAuthority(await generateCa('Hangar test CA'));
  const upstreamPair = await generateCa('Upstream test CA');
  upstreamCaPem = upstreamPair.certPem;
  const leaf = await (await createCertificateAuthority(upstreamPair)).leafFor('api.secret.test');
  server = createHttpsServer({ cert: leaf.certPem, key: leaf.keyPem }, (request, response) => {
    seen.push(request.headers);
    response.end(`upstream saw ${request.method} ${request.url}`);
  });
  server.listen(0, '127.0.0.1');
  await once(server, 'listening');
  port = (server.address() as AddressInfo).port;
});

afterAll(async () => {
  for (const proxy of proxies) await proxy.close();
  server.close();
  await rm(dir, { recursive: true, force: true });
});

/** A proxy (verifying upstreams with the test CA or Node's own) with one session holding `secrets`. */
async function proxyWith(
  secrets: EgressSecret[],
  options: { verifyWithTestCa: boolean },
): Promise<{ socketPath: string; records: EgressRecord[]; auth: string; placeholders: Record<string, string> }> {
  const proxy = await startEgressProxy({
    socketPath: path.join(dir, `proxy-${proxies.length}.sock`),
    resolver: createResolver({ hosts: { 'api.secret.test': '127.0.0.1', 'plain.test': '127.0.0.1' } }),
    addresses: createAddressPolicy({ hostAddresses: [], allowPrivateNetworks: ['127.0.0.0/8'] }),
    ca: hangarCa,
    ...(options.verifyWithTestCa ? { upstreamCa: upstreamCaPem } : {}),
    onRecord: (sessionId, record) => recordsBySession.get(sessionId)?.push(record),
  });
  proxies.push(proxy);
  const sessionId = `session-${sessions++}`;
  const records: EgressRecord[] = [];
  recordsBySession.set(sessionId, records);
  const registration = proxy.register(sessionId, { network: { allowedHosts: [`api.secret.test:${port}`, `plain.test:${port}`] }, secrets });
  return { socketPath: proxy.socketPath, records, auth: proxyAuth(registration.token), placeholders: registration.secretPlaceholders };
}

/** GET over TLS through a tunnel, trusting only Hangar's CA, as a sandbox does. */
async function getThrough(
  proxy: { socketPath: string; auth: string },
  headers: Record<string, string>,
  urlPath = '/user',
): Promise<{ status: number; body: string }> {
  const { socket, status } = await connectThrough(proxy.socketPath, `api.secret.test:${port}`, proxy.auth);
  if (socket === undefined) throw new Error(`CONNECT answered ${status}`);
  return textAnswer(
    httpsRequest({
      createConnection: () => tlsConnect({ socket, servername: 'api.secret.test', ca: hangarCa.certPem }),
      method: 'GET',
      path: urlPath,
      headers: { ...headers, host: `api.secret.test:${port}` },
    }),
  );
}

describe('secret injection', () => {
  it('puts the real value in place of the placeholder for the declared host, and sets header secrets', async () => {
    const proxy = await proxyWith(
      [
        { name: 'GITHUB_TOKEN', value: 'real-token-123', hosts: [`api.secret.test:${port}`] },
        { name: 'API_KEY', value: 'key-456', hosts: [`api.secret.test:${port}`], inject: { header: 'X-Api-Key', template: 'Key {value}' } },
      ],
      { verifyWithTestCa: true },
    );
    const placeholder = proxy.placeholders.GITHUB_TOKEN!;
    expect(placeholder).toMatch(/^hangar-secret-GITHUB_TOKEN-[0-9a-f]{24}$/);
    expect(placeholder).not.toContain('real-token');
    const answer = await getThrough(proxy, { authorization: `token ${placeholder}` });
    expect(answer).toEqual({ status: 200, body: 'upstream saw GET /user' });
    expect(seen.at(-1)!.authorization).toBe('token real-token-123');
    expect(seen.at(-1)!['x-api-key']).toBe('Key key-456');
    expect(proxy.records.at(-1)).toMatchObject({
      method: 'GET',
      host: 'api.secret.test',
      verdict: 'allowed',
      reason: 'intercepted for secrets; injected GITHUB_TOKEN, API_KEY',
    });
    expect(JSON.stringify(proxy.records)).not.toContain('real-token-123');
  });

  it('refuses a placeholder in the URL, a placeholder of a secret for another host, and one in plain HTTP', async () => {
    const proxy = await proxyWith(
      [
        { name: 'GITHUB_TOKEN', value: 'real-token-123', hosts: [`api.secret.test:${port}`] },
        { name: 'OTHER', value: 'other-secret', hosts: ['elsewhere.test'] },
      ],
      { verifyWithTestCa: true },
    );
    const before = seen.length;
    const inUrl = await getThrough(proxy, {}, `/search?q=${proxy.placeholders.GITHUB_TOKEN}`);
    expect(inUrl.status).toBe(403);
    expect(inUrl.body).toContain('secret GITHUB_TOKEN is in the URL');
    const wrongHost = await getThrough(proxy, { authorization: `token ${proxy.placeholders.OTHER}` });
    expect(wrongHost.status).toBe(403);
    expect(wrongHost.body).toContain(`secret OTHER was sent to api.secret.test:${port}, which it is not declared for`);
    const plain = await textAnswer(
      httpRequest({
        socketPath: proxy.socketPath,
        method: 'GET',
        path: `http://plain.test:${port}/`,
        headers: { 'proxy-authorization': proxy.auth, authorization: proxy.placeholders.GITHUB_TOKEN! },
      }),
    );
    expect(plain.status).toBe(403);
    expect(seen.length).toBe(before);
    expect(proxy.records.map((record) => record.verdict)).toEqual(['denied', 'denied', 'denied']);
  });

  it('verifies the upstream certificate: an upstream the proxy cannot verify gets 502', async () => {
    const proxy = await proxyWith([{ name: 'GITHUB_TOKEN', value: 'real-token-123', hosts: [`api.secret.test:${port}`] }], { verifyWithTestCa: false });
    const before = seen.length;
    const answer = await getThrough(proxy, { authorization: `token ${proxy.placeholders.GITHUB_TOKEN}` });
    expect(answer.status).toBe(502);
    expect(answer.body).toMatch(/certificate/);
    expect(seen.length).toBe(before);
  });
});

describe('installation CA', () => {
  it('is made once in the data directory, its key readable by root only', async () => {
    const caDir = path.join(dir, 'ca');
    const first = await loadOrCreateCa(caDir);
    const second = await loadOrCreateCa(caDir);
    expect(second.certPem).toBe(first.certPem);
    expect((await stat(path.join(caDir, 'egress-ca.key'))).mode & 0o777).toBe(0o600);
    expect(await readFile(path.join(caDir, 'egress-ca.pem'), 'utf8')).toBe(first.certPem);
    const leaf = await second.leafFor('example.test');
    expect(leaf.certPem).toContain(first.certPem);
  });
});
