// One egress listener per sandbox: an HTTP proxy (CONNECT tunnels and plain http:// requests) on
// a unix socket the sandbox reaches through a bridge, or on a loopback port. Node's HTTP parser
// bounds the request head (16 KiB) and the time to send it; each listener bounds its open
// connections; every decision is recorded.
import { chmod } from 'node:fs/promises';
import { createServer, type Server } from 'node:http';
import type { Socket } from 'node:net';
import { handleConnect, refuseRaw } from './connect-tunnel.js';
import { handleHttpRequest } from './http-forward.js';
import { DEFAULT_PROXY_LIMITS, type ProxyContext, type ProxyLimits } from './proxy-context.js';

/** Most bytes of a request head. */
const MAX_HEADER_BYTES = 16 * 1024;
/** Most time to send a request head. */
const HEADERS_TIMEOUT_MS = 10_000;

export type ListenTarget = { path: string; mode?: number } | { host: '127.0.0.1' | '::1'; port: number };

export interface EgressListener {
  /** The unix socket path, or the loopback port bound. */
  readonly address: string | number;
  /** Stops accepting and ends every open connection. */
  close(): Promise<void>;
}

export async function startEgressListener(context: Omit<ProxyContext, 'limits'> & { limits?: Partial<ProxyLimits> }, target: ListenTarget): Promise<EgressListener> {
  const full: ProxyContext = { ...context, limits: { ...DEFAULT_PROXY_LIMITS, ...context.limits } };
  const server: Server = createServer({ maxHeaderSize: MAX_HEADER_BYTES, headersTimeout: HEADERS_TIMEOUT_MS, requestTimeout: 0, keepAliveTimeout: 5000 });
  server.maxConnections = full.limits.maxConnections;
  const sockets = new Set<Socket>();
  server.on('connection', (socket: Socket) => {
    sockets.add(socket);
    socket.once('close', () => sockets.delete(socket));
  });
  server.on('connect', (request, socket: Socket, head: Buffer) => {
    handleConnect(full, request, socket, head).catch((error: unknown) => refuseRaw(socket, 502, 'Bad Gateway', (error as Error).message));
  });
  server.on('request', (request, response) => {
    handleHttpRequest(full, request, response).catch(() => response.destroy());
  });
  server.on('clientError', (_error, socket) => {
    if (socket.writable) refuseRaw(socket, 400, 'Bad Request', 'malformed request');
    else socket.destroy();
  });
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    if ('path' in target) server.listen(target.path, resolve);
    else server.listen(target.port, target.host, resolve);
  });
  if ('path' in target && target.mode !== undefined) await chmod(target.path, target.mode);
  const bound = server.address();
  const address = typeof bound === 'string' ? bound : (bound?.port ?? 0);
  return {
    address,
    close: () =>
      new Promise<void>((resolve) => {
        server.close(() => resolve());
        for (const socket of sockets) socket.destroy();
      }),
  };
}
