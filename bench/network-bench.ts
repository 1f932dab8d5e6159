// The egress proxy and the model gateway against direct access, side by side in one run. The file
// server and the download client are processes of their own (network-file-server.ts,
// network-client.ts), so the proxy, in this process, is charged with its own CPU only:
//  - the proxy alone: a large download through a CONNECT tunnel (as HTTPS goes) and as a plain
//    http:// request, sent to the proxy's unix socket, vs straight from the server; a small answer on
//    a new connection (latency added); the proxy's CPU per GiB relayed;
//  - for scale, the same client through socat relaying bytes to the server in the proxy's place;
//  - the real path (network-sandbox.ts): curl inside a sandbox through its socat bridge and the
//    proxy, vs curl on the host straight to the server;
//  - over a link of a real network's speed: the file server in a network namespace behind a veth
//    pair shaped to 1 Gbit/s (tc tbf), downloaded through a tunnel and straight;
//  - a small model call through the gateway vs straight to the scripted model (in this process).
import { chmodSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { performance } from 'node:perf_hooks';
import pino from 'pino';
import { Agent, request } from 'undici';
import { createAddressPolicy, createResolver, startEgressProxy } from '../src/egress/index.js';
import { startModelGateway } from '../src/gateway/model-gateway.js';
import { startScriptedModelServer } from '../src/model/scripted-model-server.js';
import type { FetchRoute } from './network-client.js';
import { createNetworkNamespace, type NetworkNamespace } from '../test/helpers/network-namespace.js';
import { startClientProcess, startFileServer, startSocatRelay, type ChildServer } from './network-processes.js';
import { startCurlPaths } from './network-sandbox.js';

export interface NetworkBench {
  downloadBytes: number;
  runs: number;
  /** Throughput of each download, MB/s (Node client process): through a CONNECT tunnel, as a plain http:// request, direct. */
  tunnelledMBps: number[];
  proxiedMBps: number[];
  directMBps: number[];
  /** The same client through socat in the proxy's place (a byte relay in C), MB/s; empty without socat. */
  socatRelayMBps: number[];
  /** CPU time of the proxy's process per GiB it relayed, ms. */
  tunnelCpuMsPerGiB: number[];
  proxiedCpuMsPerGiB: number[];
  /** Time to the whole small answer on a new connection, ms: tunnel (CONNECT, then GET), plain http://, direct. */
  tunnelConnectMs: number[];
  proxiedConnectMs: number[];
  directConnectMs: number[];
  /** curl in a sandbox through its bridge and a CONNECT tunnel vs curl on the host, direct; or why not measured. */
  sandbox: { tunnelledMBps: number[]; directMBps: number[]; tunnelConnectMs: number[]; directConnectMs: number[] } | { skipped: string };
  /** Over a 1 Gbit/s link (a shaped veth into a network namespace): tunnel vs direct, MB/s; or why not measured. */
  link: { rate: string; downloadBytes: number; tunnelledMBps: number[]; directMBps: number[] } | { skipped: string };
  /** One small non-streaming model call, ms. */
  gatewayCallMs: number[];
  directCallMs: number[];
}

const DOWNLOAD_BYTES = 256 * 1024 * 1024;
/** The download over the shaped link: about a second at 1 Gbit/s. */
const LINK_DOWNLOAD_BYTES = 128 * 1024 * 1024;
const LINK_RATE = '1gbit';

/** The file server in a network namespace whose veth is shaped to LINK_RATE; or why there is none (not root, no tc). */
async function startLinkServer(): Promise<{ namespace: NetworkNamespace; server: ChildServer } | { skipped: string }> {
  let namespace: NetworkNamespace | undefined;
  try {
    namespace = createNetworkNamespace();
    namespace.limitRate(LINK_RATE);
    return { namespace, server: await startFileServer(LINK_DOWNLOAD_BYTES, { namespace: namespace.name, address: namespace.address }) };
  } catch (error) {
    namespace?.remove();
    return { skipped: (error as Error).message.split('\n')[0] ?? 'failed' };
  }
}
/** Small answers on new connections per run and path. */
const CONNECTIONS_PER_RUN = 10;

const megabytesPerSecond = (bytes: number, ms: number): number => bytes / 1e6 / (ms / 1000);

export async function benchNetwork(runs: number): Promise<NetworkBench> {
  const dir = mkdtempSync(path.join(tmpdir(), 'hangar-network-bench-'));
  // The sandboxes' root lies inside: their unprivileged uids must be able to pass through.
  chmodSync(dir, 0o711);
  const server = await startFileServer(DOWNLOAD_BYTES);
  const linked = await startLinkServer();
  const client = await startClientProcess();
  const linkAddress = 'skipped' in linked ? '127.0.0.1' : linked.namespace.address;
  const proxy = await startEgressProxy({
    socketPath: path.join(dir, 'proxy.sock'),
    resolver: createResolver({ hosts: { 'mirror.bench': '127.0.0.1', 'link.bench': linkAddress } }),
    // The bench's servers are on loopback and in its namespace: allowed here as a mirror would be.
    addresses: createAddressPolicy({ hostAddresses: [], allowPrivateNetworks: ['127.0.0.0/8', `${linkAddress}/32`] }),
    onRecord: () => undefined,
  });
  const allowedHosts = [`mirror.bench:${server.port}`, ...('skipped' in linked ? [] : [`link.bench:${linked.server.port}`])];
  const { token } = proxy.register('bench', { network: { allowedHosts } });
  const viaProxy = { socketPath: proxy.socketPath, auth: `Basic ${Buffer.from(`hangar:${token}`).toString('base64')}` };
  const relaySocketPath = path.join(dir, 'relay.sock');
  const socatRelay = await startSocatRelay(relaySocketPath, server.port);
  const fetch = (route: FetchRoute, pathname: string): ReturnType<typeof client.fetch> =>
    client.fetch({ route, host: 'mirror.bench', port: server.port, address: '127.0.0.1', path: pathname, proxy: viaProxy, relaySocketPath });
  const curl = await startCurlPaths(path.join(dir, 'sandboxes'), { socketPath: proxy.socketPath, token });

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
    runs,
    tunnelledMBps: [],
    proxiedMBps: [],
    directMBps: [],
    socatRelayMBps: [],
    tunnelCpuMsPerGiB: [],
    proxiedCpuMsPerGiB: [],
    tunnelConnectMs: [],
    proxiedConnectMs: [],
    directConnectMs: [],
    sandbox: 'skipped' in curl ? curl : { tunnelledMBps: [], directMBps: [], tunnelConnectMs: [], directConnectMs: [] },
    link: 'skipped' in linked ? linked : { rate: '1 Gbit/s', downloadBytes: LINK_DOWNLOAD_BYTES, tunnelledMBps: [], directMBps: [] },
    gatewayCallMs: [],
    directCallMs: [],
  };
  /** Downloads /large by `route`; its throughput, and the proxy's CPU per GiB when it went through it. */
  const download = async (route: FetchRoute, throughput: number[], cpuPerGiB?: number[]): Promise<void> => {
    const cpuBefore = process.cpuUsage();
    const fetched = await fetch(route, '/large');
    const cpu = process.cpuUsage(cpuBefore);
    if (fetched.bytes < DOWNLOAD_BYTES) throw new Error(`the ${route} download ended after ${fetched.bytes} bytes`);
    throughput.push(megabytesPerSecond(fetched.bytes, fetched.totalMs));
    cpuPerGiB?.push((cpu.user + cpu.system) / 1000 / (fetched.bytes / 1024 ** 3));
  };
  const largeUrl = `http://mirror.bench:${server.port}/large`;
  const smallUrl = `http://mirror.bench:${server.port}/small`;
  try {
    // Warm-up of each path, then the runs interleaved.
    for (const route of ['direct', 'plain', 'tunnel'] as const) await fetch(route, '/small');
    if (socatRelay !== undefined) await fetch('relay', '/small');
    await call('http://gateway', viaGateway, gatewayToken);
    await call(model.url, direct, 'sk-bench');
    if (!('skipped' in curl)) {
      await curl.inSandbox(smallUrl, 1);
      await curl.onHost(`http://127.0.0.1:${server.port}/small`, 1);
    }
    // Model calls in a phase of their own, before the downloads fill this process's heap with the
    // proxy's buffers: the gateway's cost per call, not the garbage collector's after 256 MiB relays.
    for (let index = 0; index < runs * CONNECTIONS_PER_RUN * 2; index += 1) {
      result.gatewayCallMs.push(await call('http://gateway', viaGateway, gatewayToken));
      result.directCallMs.push(await call(model.url, direct, 'sk-bench'));
    }
    for (let run = 0; run < runs; run += 1) {
      await download('tunnel', result.tunnelledMBps, result.tunnelCpuMsPerGiB);
      await download('plain', result.proxiedMBps, result.proxiedCpuMsPerGiB);
      await download('direct', result.directMBps);
      if (socatRelay !== undefined) await download('relay', result.socatRelayMBps);
      if (!('skipped' in linked) && !('skipped' in result.link)) {
        for (const [route, throughput] of [
          ['tunnel', result.link.tunnelledMBps],
          ['direct', result.link.directMBps],
        ] as const) {
          const fetched = await client.fetch({
            route,
            host: 'link.bench',
            port: linked.server.port,
            address: linked.namespace.address,
            path: '/large',
            proxy: viaProxy,
          });
          if (fetched.bytes < LINK_DOWNLOAD_BYTES) throw new Error(`the ${route} download over the link ended after ${fetched.bytes} bytes`);
          throughput.push(megabytesPerSecond(fetched.bytes, fetched.totalMs));
        }
      }
      if (!('skipped' in curl) && !('skipped' in result.sandbox)) {
        const [inside] = await curl.inSandbox(largeUrl, 1);
        const [straight] = await curl.onHost(`http://127.0.0.1:${server.port}/large`, 1);
        result.sandbox.tunnelledMBps.push(megabytesPerSecond(inside!.bytes, inside!.totalMs));
        result.sandbox.directMBps.push(megabytesPerSecond(straight!.bytes, straight!.totalMs));
        result.sandbox.tunnelConnectMs.push(...(await curl.inSandbox(smallUrl, CONNECTIONS_PER_RUN)).map((transfer) => transfer.totalMs));
        const hostSmall = await curl.onHost(`http://127.0.0.1:${server.port}/small`, CONNECTIONS_PER_RUN);
        result.sandbox.directConnectMs.push(...hostSmall.map((transfer) => transfer.totalMs));
      }
      for (let connection = 0; connection < CONNECTIONS_PER_RUN; connection += 1) {
        result.tunnelConnectMs.push((await fetch('tunnel', '/small')).totalMs);
        result.proxiedConnectMs.push((await fetch('plain', '/small')).totalMs);
        result.directConnectMs.push((await fetch('direct', '/small')).totalMs);
      }
    }
    return result;
  } finally {
    if (!('skipped' in curl)) await curl.close();
    await viaGateway.close();
    await direct.close();
    await gateway.close();
    await model.close();
    await proxy.close();
    await socatRelay?.close();
    await client.close();
    await server.close();
    if (!('skipped' in linked)) {
      await linked.server.close();
      linked.namespace.remove();
    }
    rmSync(dir, { recursive: true, force: true });
  }
}
