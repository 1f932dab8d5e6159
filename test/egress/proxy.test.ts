// The egress listener over real sockets: a unix-socket proxy in front of loopback upstreams reached
// by name through the static hosts map. Loopback is a refused range, so the upstreams' proxy has
// no host addresses and allows 127.0.0.0/8 as a private network, except in the rebinding case.
import { once } from 'node:events';
import { mkdtemp, rm } from 'node:fs/promises';
import { createServer as createHttpServer, request as httpRequest, type IncomingHttpHeaders } from 'node:http';
import { createServer, type AddressInfo, type Server } from 'node:net';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { connect as tlsConnect } from 'node:tls';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { connectThrough, proxyAuth, textAnswer, type TextAnswer } from '../helpers/proxy-client.js';
import { sniRefusal } from '../../src/egress/connect-tunnel.js';
import { createAddressPolicy, createResolver, startEgressProxy, type EgressProxy, type EgressRecord, type NetworkSettings } from '../../src/egress/index.js';

let dir: string;
let rawServer: Server;
let rawPort: number;
/** What each connection to the raw upstream sent, in order of arrival. */
const rawReceived: Buffer[] = [];
let httpServer: ReturnType<typeof createHttpServer>;
let httpPort: number;
const httpSeen: Array<{ url: string; headers: IncomingHttpHeaders }> = [];
/** Two proxies: one may dial loopback (where the upstreams are), one may not (the rebinding case). */
const proxies: Record<'loopback' | 'strict', EgressProxy> = {} as Record<'loopback' | 'strict', EgressProxy>;
/** Records by session id. */
const recordsBySession = new Map<string, EgressRecord[]>();
let sessions = 0;

beforeAll(async () => {
  dir = await mkdtemp(path.join(tmpdir(), 'hangar-egress-'));
  rawServer = createServer((socket) => {
    const index = rawReceived.push(Buffer.alloc(0)) - 1;
    socket.on('data', (chunk: Buffer) => (rawReceived[index] = Buffer.concat([rawReceived[index]!, chunk])));
    socket.on('error', () => undefined);
  });
  rawServer.listen(0, '127.0.0.1');
  await once(rawServer, 'listening');
  rawPort = (rawServer.address() as AddressInfo).port;
  httpServer = createHttpServer((request, response) => {
    httpSeen.push({ url: request.url ?? '', headers: request.headers });
    response.end(`hello from upstream ${request.url}`);
  });
  httpServer.listen(0, '127.0.0.1');
  await once(httpServer, 'listening');
  httpPort = (httpServer.address() as AddressInfo).port;
  for (const [name, allowPrivateNetworks] of [
    ['loopback', ['127.0.0.0/8', '169.254.0.0/16']],
    ['strict', []],
  ] as const) {
    proxies[name] = await startEgressProxy({
      socketPath: path.join(dir, `${name}.sock`),
      resolver: createResolver({
        hosts: { 'allowed.test': '127.0.0.1', 'other.test': '127.0.0.1', 'rebind.test': '127.0.0.1', 'metadata.test': '169.254.169.254' },
      }),
      addresses: createAddressPolicy({ hostAddresses: [], allowPrivateNetworks }),
      onRecord: (sessionId, record) => recordsBySession.get(sessionId)?.push(record),
    });
  }
});

afterAll(async () => {
  for (const proxy of Object.values(proxies)) await proxy.close();
  rawServer.close();
  httpServer.close();
  await rm(dir, { recursive: true, force: true });
});

/** A session registered with `network`; its records land in the returned array. */
function proxyFor(network: NetworkSettings, options: { allowLoopback?: boolean } = {}): { socketPath: string; records: EgressRecord[]; auth: string } {
  const proxy = proxies[options.allowLoopback === false ? 'strict' : 'loopback'];
  const sessionId = `session-${sessions++}`;
  const records: EgressRecord[] = [];
  recordsBySession.set(sessionId, records);
  const { token } = proxy.register(sessionId, { network });
  return { socketPath: proxy.socketPath, records, auth: proxyAuth(token) };
}

/** Waits until the records hold `count` entries (each is written when its connection ends). */
async function recordsOf(records: EgressRecord[], count: number): Promise<EgressRecord[]> {
  while (records.length < count) await new Promise((resolve) => setTimeout(resolve, 20));
  return records;
}

describe('egress listener', () => {
  it('tunnels TLS to an allowed host whose ClientHello names it, and records the bytes', async () => {
    const { socketPath, records, auth } = proxyFor({ allowedHosts: [`allowed.test:${rawPort}`] });
    const before = rawReceived.length;
    const tunnel = await connectThrough(socketPath, `allowed.test:${rawPort}`, auth);
    expect(tunnel.status).toBe(200);
    const tls = tlsConnect({ socket: tunnel.socket!, servername: 'allowed.test', rejectUnauthorized: false });
    tls.on('error', () => undefined);
    while (rawReceived.length === before || rawReceived[before]!.length === 0) await new Promise((resolve) => setTimeout(resolve, 20));
    // The upstream got the ClientHello itself (a TLS handshake record).
    expect(rawReceived[before]![0]).toBe(0x16);
    tls.destroy();
    const [record] = await recordsOf(records, 1);
    expect(record).toMatchObject({
      method: 'CONNECT',
      host: 'allowed.test',
      port: rawPort,
      verdict: 'allowed',
      reason: `allowed.test:${rawPort}`,
      address: '127.0.0.1',
    });
    expect(record!.bytesOut).toBeGreaterThan(100);
  });

  it('closes a tunnel whose TLS server name is another host (domain fronting) before a byte goes upstream', async () => {
    const { socketPath, records, auth } = proxyFor({ allowedHosts: [`allowed.test:${rawPort}`, `other.test:${rawPort}`] });
    const tunnel = await connectThrough(socketPath, `allowed.test:${rawPort}`, auth);
    expect(tunnel.status).toBe(200);
    const before = rawReceived.length;
    const tls = tlsConnect({ socket: tunnel.socket!, servername: 'other.test', rejectUnauthorized: false });
    const closed = new Promise((resolve) => tls.once('close', resolve));
    tls.on('error', () => undefined);
    await closed;
    const [record] = await recordsOf(records, 1);
    expect(record).toMatchObject({ verdict: 'denied', reason: `the TLS server name other.test differs from the CONNECT host allowed.test`, bytesOut: 0 });
    // The upstream connection was opened for the check, and nothing reached it.
    expect(rawReceived.slice(before).every((data) => data.length === 0)).toBe(true);
  });

  it('answers 403 naming the reason for a host not allowed, a raw IP, metadata and a name that resolves to loopback', async () => {
    const { socketPath, records, auth } = proxyFor(
      { allowedHosts: [`allowed.test:${rawPort}`, `rebind.test:${rawPort}`, `metadata.test:${rawPort}`] },
      { allowLoopback: false },
    );
    const denied = await connectThrough(socketPath, `other.test:${rawPort}`, auth);
    expect(denied).toMatchObject({ status: 403, body: `hangar egress proxy: host other.test:${rawPort} is not in the allowed hosts\n` });
    const rawIp = await connectThrough(socketPath, `127.0.0.1:${rawPort}`, auth);
    expect(rawIp.status).toBe(403);
    expect(rawIp.body).toContain('IP address 127.0.0.1');
    const rebind = await connectThrough(socketPath, `rebind.test:${rawPort}`, auth);
    expect(rebind.status).toBe(403);
    expect(rebind.body).toContain('rebind.test resolves only to refused addresses: 127.0.0.1 is loopback');
    const metadata = await connectThrough(socketPath, `metadata.test:${rawPort}`, auth);
    expect(metadata.status).toBe(403);
    expect(metadata.body).toContain('169.254.169.254 is link-local');
    expect((await recordsOf(records, 4)).map((record) => record.verdict)).toEqual(['denied', 'denied', 'denied', 'denied']);
  });

  it('refuses a plain-text tunnel on the web ports and a malformed CONNECT target', async () => {
    const { socketPath, records, auth } = proxyFor({ allowedHosts: ['allowed.test:443', `allowed.test:${rawPort}`] });
    const malformed = await connectThrough(socketPath, 'allowed.test', auth);
    expect(malformed.status).toBe(400);
    // On an explicitly allowed non-web port a plain protocol passes (ssh-like).
    const before = rawReceived.length;
    const tunnel = await connectThrough(socketPath, `allowed.test:${rawPort}`, auth);
    tunnel.socket!.write('SSH-2.0-test\r\n');
    while (rawReceived.length === before || rawReceived[before]!.length === 0) await new Promise((resolve) => setTimeout(resolve, 20));
    expect(rawReceived[before]!.toString()).toBe('SSH-2.0-test\r\n');
    tunnel.socket!.destroy();
    expect((await recordsOf(records, 1))[0]).toMatchObject({ verdict: 'allowed' });
    // On the web ports the same plain bytes are refused: there a Host header could name any virtual host.
    expect(sniRefusal('allowed.test', 443, undefined, false)).toMatch(/must carry TLS/);
    expect(sniRefusal('allowed.test', 80, undefined, false)).toMatch(/must carry TLS/);
    expect(sniRefusal('allowed.test', 443, undefined, true)).toMatch(/names no server/);
    expect(sniRefusal('203.0.113.7', 443, undefined, true)).toBeUndefined();
    expect(sniRefusal('203.0.113.7', 443, 'example.com', true)).toMatch(/differs/);
    expect(sniRefusal('allowed.test', 443, 'Allowed.Test.', true)).toBeUndefined();
  });

  it('forwards plain http:// requests to allowed hosts with the Host header pinned and proxy headers dropped', async () => {
    const { socketPath, records, auth } = proxyFor({ allowedHosts: [`allowed.test:${httpPort}`] });
    const get = (url: string, headers: Record<string, string> = {}): Promise<TextAnswer> =>
      textAnswer(httpRequest({ socketPath, method: 'GET', path: url, headers: { 'proxy-authorization': auth, ...headers } }));
    const ok = await get(`http://allowed.test:${httpPort}/pkg?x=1`, { host: 'other.test', 'x-kept': 'yes' });
    expect(ok).toEqual({ status: 200, body: 'hello from upstream /pkg?x=1' });
    const seen = httpSeen.at(-1)!;
    expect(seen.headers.host).toBe(`allowed.test:${httpPort}`);
    expect(seen.headers['proxy-authorization']).toBeUndefined();
    expect(seen.headers['x-kept']).toBe('yes');
    const denied = await get(`http://other.test:${httpPort}/`);
    expect(denied.status).toBe(403);
    const originForm = await get('/not-a-proxy-request');
    expect(originForm.status).toBe(400);
    const [allowed, refused] = await recordsOf(records, 2);
    expect(allowed).toMatchObject({ method: 'GET', host: 'allowed.test', verdict: 'allowed' });
    expect(allowed!.bytesIn).toBeGreaterThan(0);
    expect(refused).toMatchObject({ method: 'GET', host: 'other.test', verdict: 'denied' });
  });

  it("answers 407 without credentials or with a revoked token, and closes a revoked session's tunnels", async () => {
    const { socketPath, auth } = proxyFor({ allowedHosts: [`allowed.test:${rawPort}`] });
    expect((await connectThrough(socketPath, `allowed.test:${rawPort}`)).status).toBe(407);
    expect((await connectThrough(socketPath, `allowed.test:${rawPort}`, 'Basic aGFuZ2FyOndyb25n')).status).toBe(407);
    const open = await connectThrough(socketPath, `allowed.test:${rawPort}`, auth);
    expect(open.status).toBe(200);
    const closed = new Promise((resolve) => open.socket!.once('close', resolve));
    await proxies.loopback.revoke(`session-${sessions - 1}`);
    await closed;
    expect((await connectThrough(socketPath, `allowed.test:${rawPort}`, auth)).status).toBe(407);
  });

  it('records every host tried in learn mode and allows none', async () => {
    const { socketPath, records, auth } = proxyFor({ allowedHosts: [`allowed.test:${rawPort}`], mode: 'learn' });
    expect((await connectThrough(socketPath, `allowed.test:${rawPort}`, auth)).status).toBe(403);
    expect((await connectThrough(socketPath, 'registry.npmjs.org:443', auth)).status).toBe(403);
    expect((await recordsOf(records, 2)).map((record) => `${record.host}:${record.port} ${record.verdict}`)).toEqual([
      `allowed.test:${rawPort} denied`,
      'registry.npmjs.org:443 denied',
    ]);
  });
});
