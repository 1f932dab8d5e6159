// The API's port, bound before anything else starts: a port in use fails startup before a sandbox,
// a socket or a database exists. Until the API is built, the port answers 503 NOT_READY; then the
// reservation closes and the API listens on the same port at once. Another process could take the
// port in that instant; the API's listen then fails and startup closes what it started, as for any
// startup failure.
import { createServer, type IncomingMessage, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { HangarError } from '../errors/errors.js';

export interface PortReservation {
  /** The port bound (the one chosen by the kernel when 0 was asked for). */
  readonly port: number;
  /** Stops listening and ends its connections, so the API can listen on the port (idempotent). */
  release(): Promise<void>;
}

function starting(_request: IncomingMessage, response: ServerResponse): void {
  const body = new HangarError('NOT_READY', 'hangar is starting; retry in a moment').toBody();
  response.writeHead(503, { 'content-type': 'application/json; charset=utf-8', 'retry-after': '1', connection: 'close' });
  response.end(JSON.stringify(body));
}

/** Host part of a URL for a bind address (wildcards are reached on loopback; IPv6 in brackets). */
export function urlHost(host: string): string {
  if (host === '0.0.0.0' || host === '') return '127.0.0.1';
  if (host === '::') return '[::1]';
  return host.includes(':') ? `[${host}]` : host;
}

/** Binds host:port now; rejects with the listen error (EADDRINUSE, EACCES...) naming the address. */
export async function reservePort(host: string, port: number): Promise<PortReservation> {
  const server = createServer(starting);
  // Fastify's defaults for the server it would create itself.
  server.keepAliveTimeout = 72_000;
  server.requestTimeout = 0;
  await new Promise<void>((resolve, reject) => {
    const onError = (error: NodeJS.ErrnoException): void => {
      server.off('listening', onListening);
      if (error.code === 'EADDRINUSE') error.message = `port ${port} on ${host} is already in use (${error.message})`;
      reject(error);
    };
    const onListening = (): void => {
      server.off('error', onError);
      resolve();
    };
    server.once('error', onError);
    server.once('listening', onListening);
    server.listen({ host, port });
  });
  const address = server.address() as AddressInfo;
  let closed: Promise<void> | undefined;
  return {
    port: address.port,
    release() {
      closed ??= new Promise<void>((resolve) => {
        server.close(() => resolve());
        server.closeAllConnections();
      });
      return closed;
    },
  };
}
