// Serves the scripted model server's routes on a unix socket too (for ANTHROPIC_UNIX_SOCKET or a
// socat bridge), replacing a stale socket left at the path.
import { lstat, unlink } from 'node:fs/promises';
import { createServer, type Server } from 'node:http';
import type { FastifyInstance } from 'fastify';
import { HangarError } from '../errors/errors.js';

/** Listens on `socketPath` with `app`'s routes; fails with INTERNAL when it cannot. */
export async function listenOnSocket(app: FastifyInstance, socketPath: string): Promise<Server> {
  const existing = await lstat(socketPath).catch(() => undefined);
  if (existing?.isSocket()) await unlink(socketPath);
  const server = createServer((req, res) => app.routing(req, res));
  try {
    await new Promise<void>((resolve, reject) => {
      server.once('error', reject);
      server.listen(socketPath, () => {
        server.off('error', reject);
        resolve();
      });
    });
  } catch (error) {
    throw new HangarError('INTERNAL', `cannot listen on ${socketPath}: ${(error as Error).message}`, {
      cause: error,
    });
  }
  return server;
}

/** Closes a socket server started by listenOnSocket and removes its socket. */
export async function closeSocket(server: Server, socketPath: string): Promise<void> {
  server.closeAllConnections();
  await new Promise<void>((resolve) => server.close(() => resolve()));
  await unlink(socketPath).catch(() => undefined);
}
