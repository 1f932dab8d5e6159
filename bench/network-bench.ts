// The egress proxy and the model gateway against direct access, measured side by side in one run
// and in one process (client, proxy and server share its thread, so the proxy's share of the CPU
// weighs more than between processes): a large download through a CONNECT tunnel and as a plain
// http:// request through the proxy vs straight from the server (throughput), a
// new connection through the proxy (CONNECT and the answer to the first request) vs a direct one
// (latency added), and a small model call through the gateway vs straight to the model server.
import { once } from 'node:events';
import { mkdtempSync, rmSync } from 'node:fs';
import { createServer, request as httpRequest, type IncomingMessage } from 'node:http';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import path from 'node:path';
import pino from 'pino';
import { Agent, request } from 'undici';
import { createAddressPolicy, createResolver, startEgressProxy } from '../src/egress/index.js';
import { startModelGateway } from '../src/gateway/model-gateway.js';
import { startScriptedModelServer } from '../src/model/scripted-model-server.js';

export interface NetworkBench {
  downloadBytes: number;
  /** Throughput of each run, MB/s: through a CONNECT tunnel (as HTTPS goes), as a plain http:// request through the proxy, and direct. */
  tunnelledMBps: number[];
  proxiedMBps: number[];
  directMBps: number[];
  /** Time to the first byte of a small answer on a new connection, ms. */
  proxiedConnectMs: number[];
  directConnectMs: number[];
  /** One small non-streaming model call, ms. */
  gatewayCallMs: number[];
  directCallMs: number[];
}

const DOWNLOAD_BYTES = 256 * 1024 * 1024;
const CHUNK = Buffer.alloc(1024 * 1024, 7);

function drain(response: IncomingMessage): Promise<number> {
  return new Promise((resolve, reject) => {
    let bytes = 0;
    response.on('data', (chunk: Buffer) => (bytes += chunk.length));
    response.once('end', () => resolve(bytes));
    response.once('error', reject);
  });
}

/** GET `url` (through the proxy's socket when given), resolving with the bytes read and the ms to the first byte and to the end. */
function get(url: string, proxy?: { socketPath: string; auth: string }): Promise<{ bytes: number; firstByteMs: number; totalMs: number }> {
  const started = performance.now();
  return new Promise((resolve, reject) => {
    const target = new URL(url);
    const options =
      proxy !== undefined
        ? { socketPath: proxy.socketPath, path: url, headers: { 'proxy-authorization': proxy.auth, host: target.host }, agent: false as const }
        : { host: target.hostname, port: Number(target.port), path: target.pathname, agent: false as const };
    const outgoing = httpRequest(options, (response) => {
      const firstByteMs = performance.now() - started;
      drain(response).then((bytes) => resolve({ bytes, firstByteMs, totalMs: performance.now() - started }), reject);
    });
    outgoing.once('error', reject);
    outgoing.end();
  });
}

/** Downloads `path` through a CONNECT tunnel of the proxy (the request and answer as raw bytes, as TLS would carry them). */
function tunnelledGet(
  proxy: { socketPath: string; auth: string },
  hostPort: string,
  pathname: string,
  expected: number,
): Promise<{ bytes: number; totalMs: number }> {
  const started = performance.now();
  return new Promise((resolve, reject) => {
    const connect = httpRequest({
      socketPath: proxy.socketPath,
      method: 'CONNECT',
      path: hostPort,
      headers: { 'proxy-authorization': proxy.auth },
      agent: false,
    });
    connect.once('connect', (answer, socket) => {
      if (answer.statusCode !== 200) return reject(new Error(`CONNECT answered ${answer.statusCode}`));
      let bytes = 0;
      socket.on('data', (chunk: Buffer) => {
        bytes += chunk.length;
        if (bytes >= expected) {
          socket.destroy();
          resolve({ bytes, totalMs: performance.now() - started });
        }
      });
      socket.once('error', reject);
      socket.write(`GET ${pathname} HTTP/1.1\r\nHost: ${hostPort}\r\nConnection: close\r\n\r\n`);
    });
    connect.once('error', reject);
    connect.end();
  });
}

export async function benchNetwork(runs: number): Promise<NetworkBench> {
  const dir = mkdtempSync(path.join(tmpdir(), 'hangar-network-bench-'));
  const server = createServer((incoming, response) => {
    if (incoming.url === '/large') {
      response.writeHead(200, { 'content-length': DOWNLOAD_BYTES });
      let sent = 0;
      const pump = (): void => {
        while (sent < DOWNLOAD_BYTES) {
          sent += CHUNK.length;
          if (!response.write(CHUNK)) return void response.once('drain', pump);
        }
        response.end();
      };
      pump();
    } else response.end('ok');
  });
  server.listen(0, '127.0.0.1');
  await once(server, 'listening');
  const port = (server.address() as AddressInfo).port;
  const proxy = await startEgressProxy({
    socketPath: path.join(dir, 'proxy.sock'),
    resolver: createResolver({ hosts: { 'mirror.bench': '127.0.0.1' } }),
    // The bench's server is on loopback: allowed here as a mirror would be.
    addresses: createAddressPolicy({ hostAddresses: [], allowPrivateNetworks: ['127.0.0.0/8'] }),
    onRecord: () => undefined,
  });
  const { token } = proxy.register('bench', { network: { allowedHosts: [`mirror.bench:${port}`] } });
  const viaProxy = { socketPath: proxy.socketPath, auth: `Basic ${Buffer.from(`hangar:${token}`).toString('base64')}` };

  const model = await startScriptedModelServer({ scenario: { replies: [], whenExhausted: { text: 'ok' } }, host: '127.0.0.1', port: 0, logger: false });
  const gateway = await startModelGateway({
    socketPath: path.join(dir, 'gateway.sock'),
    upstreamUrl: model.url,
    upstreamApiKey: 'sk-bench',
    requestTimeoutMs: 30_000,
    logger: pino({ level: 'silent' }),
  });
  const gatewayToken = gateway.registerSession('bench');
  const viaGateway = new Agent({ connect: { socketPath: gateway.socketPath } });
  const direct = new Agent();
  const body = JSON.stringify({ model: 'claude-sonnet-4-5', max_tokens: 16, messages: [{ role: 'user', content: 'hi' }] });
  const call = async (base: string, dispatcher: Agent, key: string): Promise<number> => {
    const started = performance.now();
    const answer = await request(`${base}/v1/messages`, {
      method: 'POST',
      dispatcher,
      headers: { 'x-api-key': key, 'content-type': 'application/json', 'anthropic-version': '2023-06-01' },
      body,
    });
    await answer.body.text();
    return performance.now() - started;
  };

  const result: NetworkBench = {
    downloadBytes: DOWNLOAD_BYTES,
    tunnelledMBps: [],
    proxiedMBps: [],
    directMBps: [],
    proxiedConnectMs: [],
    directConnectMs: [],
    gatewayCallMs: [],
    directCallMs: [],
  };
  try {
    // Warm-up of each path, then the runs interleaved.
    await get(`http://mirror.bench:${port}/small`, viaProxy);
    await get(`http://127.0.0.1:${port}/small`);
    await call('http://gateway', viaGateway, gatewayToken);
    await call(model.url, direct, 'sk-bench');
    for (let run = 0; run < runs; run += 1) {
      const tunnelled = await tunnelledGet(viaProxy, `mirror.bench:${port}`, '/large', DOWNLOAD_BYTES);
      result.tunnelledMBps.push(tunnelled.bytes / 1e6 / (tunnelled.totalMs / 1000));
      const proxied = await get(`http://mirror.bench:${port}/large`, viaProxy);
      const straight = await get(`http://127.0.0.1:${port}/large`);
      result.proxiedMBps.push(proxied.bytes / 1e6 / (proxied.totalMs / 1000));
      result.directMBps.push(straight.bytes / 1e6 / (straight.totalMs / 1000));
      for (let connection = 0; connection < 10; connection += 1) {
        result.proxiedConnectMs.push((await get(`http://mirror.bench:${port}/small`, viaProxy)).totalMs);
        result.directConnectMs.push((await get(`http://127.0.0.1:${port}/small`)).totalMs);
        result.gatewayCallMs.push(await call('http://gateway', viaGateway, gatewayToken));
        result.directCallMs.push(await call(model.url, direct, 'sk-bench'));
      }
    }
    return result;
  } finally {
    await viaGateway.close();
    await direct.close();
    await gateway.close();
    await model.close();
    await proxy.close();
    server.close();
    rmSync(dir, { recursive: true, force: true });
  }
}
