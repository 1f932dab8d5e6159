// The bytes of CONNECT tunnels over real sockets: large transfers both ways arrive whole and in order
// through a client that reads slowly (the proxy must stop reading the upstream and resume), every byte
// is counted in the record, an upstream that speaks first is heard, and idle or revoked tunnels close
// while bytes are still waiting. The tunnels carry plain bytes to a port the rule names explicitly.
import { createHash, randomBytes } from 'node:crypto';
import { once } from 'node:events';
import { mkdtemp, rm } from 'node:fs/promises';
import { createServer, type AddressInfo, type Server, type Socket } from 'node:net';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { connectThrough, proxyAuth } from '../helpers/proxy-client.js';
import { createAddressPolicy, createResolver, startEgressProxy, type EgressProxy, type EgressRecord } from '../../src/egress/index.js';

const DOWNLOAD = randomBytes(24 * 1024 * 1024);
const UPLOAD = randomBytes(6 * 1024 * 1024);
const BANNER = 'SSH-2.0-upstream-speaks-first\r\n';
const sha256 = (data: Buffer): string => createHash('sha256').update(data).digest('hex');

let dir: string;
let proxy: EgressProxy;
const servers: Server[] = [];
const records = new Map<string, EgressRecord[]>();
let sessions = 0;

/** An upstream on loopback running `onConnection` for each connection; resolves with its port. */
async function upstream(onConnection: (socket: Socket) => void): Promise<number> {
  const server = createServer((socket) => {
    socket.on('error', () => undefined);
    onConnection(socket);
  });
  server.listen(0, '127.0.0.1');
  await once(server, 'listening');
  servers.push(server);
  return (server.address() as AddressInfo).port;
}

/** A session allowed `mirror.test:<port>`: its id, credentials and the records it gets. */
function session(port: number): { id: string; auth: string; records: EgressRecord[] } {
  const id = `relay-${sessions++}`;
  const own: EgressRecord[] = [];
  records.set(id, own);
  return { id, auth: proxyAuth(proxy.register(id, { network: { allowedHosts: [`mirror.test:${port}`] } }).token), records: own };
}

async function firstRecord(own: EgressRecord[]): Promise<EgressRecord> {
  while (own.length === 0) await new Promise((resolve) => setTimeout(resolve, 20));
  return own[0]!;
}

beforeAll(async () => {
  dir = await mkdtemp(path.join(tmpdir(), 'hangar-tunnel-relay-'));
  proxy = await startEgressProxy({
    socketPath: path.join(dir, 'proxy.sock'),
    resolver: createResolver({ hosts: { 'mirror.test': '127.0.0.1' } }),
    addresses: createAddressPolicy({ hostAddresses: [], allowPrivateNetworks: ['127.0.0.0/8'] }),
    limits: { idleTimeoutMs: 500 },
    onRecord: (sessionId, record) => records.get(sessionId)?.push(record),
  });
});

afterAll(async () => {
  await proxy.close();
  for (const server of servers) server.close();
  await rm(dir, { recursive: true, force: true });
});

describe('egress tunnel relay', () => {
  it('carries a large download and upload whole to a slow reader, and records every byte each way', async () => {
    let uploaded = Buffer.alloc(0);
    const port = await upstream((socket) => {
      const chunks: Buffer[] = [];
      socket.on('data', (chunk: Buffer) => chunks.push(chunk));
      socket.once('end', () => (uploaded = Buffer.concat(chunks)));
      socket.end(DOWNLOAD);
    });
    const { auth, records: own } = session(port);
    const tunnel = await connectThrough(path.join(dir, 'proxy.sock'), `mirror.test:${port}`, auth);
    expect(tunnel.status).toBe(200);
    const client = tunnel.socket!;
    const received: Buffer[] = [];
    let sinceBreak = 0;
    client.on('data', (chunk: Buffer) => {
      received.push(chunk);
      sinceBreak += chunk.length;
      // A pause after every MiB: the proxy's writes to the client back up and it stops reading.
      if (sinceBreak >= 1024 * 1024) {
        sinceBreak = 0;
        client.pause();
        setTimeout(() => client.resume(), 5);
      }
    });
    client.end(UPLOAD);
    await once(client, 'close');
    expect(sha256(Buffer.concat(received))).toBe(sha256(DOWNLOAD));
    expect(sha256(uploaded)).toBe(sha256(UPLOAD));
    expect(await firstRecord(own)).toMatchObject({ verdict: 'allowed', bytesIn: DOWNLOAD.length, bytesOut: UPLOAD.length });
  });

  it('passes on what an upstream sends before the client speaks', async () => {
    const port = await upstream((socket) => socket.end(BANNER));
    const { auth, records: own } = session(port);
    const tunnel = await connectThrough(path.join(dir, 'proxy.sock'), `mirror.test:${port}`, auth);
    const client = tunnel.socket!;
    let heard = '';
    client.on('data', (chunk: Buffer) => (heard += chunk.toString()));
    // The upstream's banner waits in the proxy until the client's first bytes are checked.
    await new Promise((resolve) => setTimeout(resolve, 100));
    client.write('SSH-2.0-client\r\n');
    await once(client, 'end');
    client.destroy();
    expect(heard).toBe(BANNER);
    expect(await firstRecord(own)).toMatchObject({ verdict: 'allowed', bytesIn: BANNER.length });
  });

  it('closes an idle tunnel after the idle timeout, and a revoked one while the client is not reading', async () => {
    const idlePort = await upstream(() => undefined);
    const idle = session(idlePort);
    const idleTunnel = await connectThrough(path.join(dir, 'proxy.sock'), `mirror.test:${idlePort}`, idle.auth);
    idleTunnel.socket!.write('HELLO\r\n');
    await once(idleTunnel.socket!, 'close');
    expect(await firstRecord(idle.records)).toMatchObject({ verdict: 'allowed', bytesOut: 'HELLO\r\n'.length });

    const busyPort = await upstream((socket) => socket.end(DOWNLOAD));
    const busy = session(busyPort);
    const busyTunnel = await connectThrough(path.join(dir, 'proxy.sock'), `mirror.test:${busyPort}`, busy.auth);
    busyTunnel.socket!.pause();
    busyTunnel.socket!.write('GO\r\n');
    // Bytes pile up unread at the client: the proxy's writes to it back up and it stops reading.
    while (busyTunnel.socket!.readableLength === 0) await new Promise((resolve) => setTimeout(resolve, 20));
    await proxy.revoke(busy.id);
    let read = 0;
    busyTunnel.socket!.on('data', (chunk: Buffer) => (read += chunk.length));
    busyTunnel.socket!.resume();
    await once(busyTunnel.socket!, 'close');
    expect(read).toBeLessThan(DOWNLOAD.length);
    const record = await firstRecord(busy.records);
    expect(record.verdict).toBe('allowed');
    expect(record.bytesIn).toBeGreaterThan(0);
    expect(record.bytesIn).toBeLessThan(DOWNLOAD.length);
  });
});
