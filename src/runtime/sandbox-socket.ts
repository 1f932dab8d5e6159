// Listening on a unix socket that sandboxes reach through a bridge (the model gateway, the egress
// proxy): the directory made, a stale socket replaced, and the socket open to every uid, since
// sandboxes run under unprivileged uids and a per-session token, not the socket's mode, is the
// access check.
import { chmod, mkdir, rm } from 'node:fs/promises';
import type { Server } from 'node:net';
import path from 'node:path';

export async function listenForSandboxes(server: Server, socketPath: string): Promise<void> {
  await mkdir(path.dirname(socketPath), { recursive: true });
  await rm(socketPath, { force: true });
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(socketPath, () => {
      server.off('error', reject);
      resolve();
    });
  });
  await chmod(socketPath, 0o666);
}
