// Child process of the network bench: downloads on request (IPC messages), over raw sockets so the
// client's own work per byte is a count. A fetch goes straight to the server over TCP, as a plain
// http:// request in absolute form to the egress proxy's unix socket, through a CONNECT tunnel of
// the proxy (the request and the answer as raw bytes, as TLS would carry them), or to the unix
// socket of a plain byte relay to the server (socat, for scale). Each fetch uses a new
// connection and reads until the server closes it; the answer must be a 200. Reply 0 says it is ready.
import { connect, type Socket } from 'node:net';
import { performance } from 'node:perf_hooks';

export type FetchRoute = 'direct' | 'plain' | 'tunnel' | 'relay';

export interface FetchRequest {
  id: number;
  route: FetchRoute;
  /** The name and port the request is for; `direct` connects to `address` instead of resolving it. */
  host: string;
  port: number;
  address: string;
  path: string;
  proxy?: { socketPath: string; auth: string };
  /** The byte relay's unix socket, for `relay`. */
  relaySocketPath?: string;
}

export type FetchReply = { id: number; ok: true; bytes: number; firstByteMs: number; totalMs: number } | { id: number; ok: false; error: string };

const HEAD_END = '\r\n\r\n';

/** Resolves once the proxy answered the CONNECT with 200 (anything else rejects). */
function tunnelOpened(socket: Socket, target: string, auth: string): Promise<void> {
  return new Promise((resolve, reject) => {
    let head = '';
    const onData = (chunk: Buffer): void => {
      head += chunk.toString('latin1');
      if (!head.includes(HEAD_END)) return;
      socket.off('data', onData);
      if (head.startsWith('HTTP/1.1 200')) resolve();
      else reject(new Error(`CONNECT ${target} answered ${head.split('\r\n')[0]}`));
    };
    socket.on('data', onData);
    socket.write(`CONNECT ${target} HTTP/1.1\r\nHost: ${target}\r\nProxy-Authorization: ${auth}\r\n\r\n`);
  });
}

async function fetchOnce(request: FetchRequest): Promise<FetchReply> {
  const started = performance.now();
  const target = `${request.host}:${request.port}`;
  const socket =
    request.route === 'direct'
      ? connect(request.port, request.address)
      : connect(request.route === 'relay' ? request.relaySocketPath! : request.proxy!.socketPath);
  const failed = new Promise<never>((_resolve, reject) => socket.once('error', reject));
  failed.catch(() => undefined);
  await Promise.race([new Promise((resolve) => socket.once('connect', resolve)), failed]);
  if (request.route === 'tunnel') await Promise.race([tunnelOpened(socket, target, request.proxy!.auth), failed]);
  const requestTarget = request.route === 'plain' ? `http://${target}${request.path}` : request.path;
  const proxyAuth = request.route === 'plain' ? `Proxy-Authorization: ${request.proxy!.auth}\r\n` : '';
  const answer = new Promise<{ bytes: number; firstByteMs: number; status: string }>((resolve) => {
    let bytes = 0;
    let firstByteMs = 0;
    let status = '';
    socket.on('data', (chunk: Buffer) => {
      if (bytes === 0) {
        firstByteMs = performance.now() - started;
        status = chunk.subarray(0, 12).toString('latin1');
      }
      bytes += chunk.length;
    });
    socket.once('end', () => resolve({ bytes, firstByteMs, status }));
  });
  socket.write(`GET ${requestTarget} HTTP/1.1\r\nHost: ${target}\r\n${proxyAuth}Connection: close\r\n\r\n`);
  const { bytes, firstByteMs, status } = await Promise.race([answer, failed]);
  const totalMs = performance.now() - started;
  socket.destroy();
  if (status !== 'HTTP/1.1 200') throw new Error(`GET ${target}${request.path} (${request.route}) answered ${JSON.stringify(status)}`);
  return { id: request.id, ok: true, bytes, firstByteMs, totalMs };
}

process.on('message', (request: FetchRequest) => {
  fetchOnce(request).then(
    (reply) => process.send!(reply),
    (error: unknown) => process.send!({ id: request.id, ok: false, error: (error as Error).message }),
  );
});
process.send!({ id: 0, ok: true, bytes: 0, firstByteMs: 0, totalMs: 0 } satisfies FetchReply);
