// CONNECT: a tunnel to an allowed host. The name is checked against the policy, resolved and dialed
// (refused addresses never are) before the client hears 200; then the first bytes the client sends
// must be a TLS ClientHello whose server name (SNI) is the CONNECT host, so a tunnel opened for an
// allowed name cannot carry TLS for another (domain fronting). Only then does a byte go upstream.
import type { IncomingMessage } from 'node:http';
import { isIP, type Socket } from 'node:net';
import type { Duplex } from 'node:stream';
import { MAX_CLIENT_HELLO_BYTES, parseClientHello } from './client-hello.js';
import { decisionRecorder } from './audit.js';
import { dial } from './dial.js';
import { DEFAULT_PORTS, normalizeHost } from './host-rules.js';
import { serveIntercepted } from './intercept.js';
import type { ProxyContext } from './proxy-context.js';
import { tunnelReads } from './relay.js';

/** Most time a client may take to send its ClientHello after 200. */
export const CLIENT_HELLO_TIMEOUT_MS = 10_000;

/** Parses a CONNECT target `host:port` or `[v6]:port`. */
export function parseConnectTarget(target: string | undefined): { host: string; port: number } | undefined {
  const match = /^(\[[0-9a-fA-F:.]+\]|[^:[\]/\s]+):(\d{1,5})$/.exec(target ?? '');
  if (match === null) return undefined;
  const port = Number(match[2]);
  if (port < 1 || port > 65535) return undefined;
  return { host: normalizeHost(match[1]!), port };
}

/** Writes a plain-text HTTP refusal on a raw socket and closes it. */
export function refuseRaw(socket: Duplex, status: number, statusText: string, reason: string): void {
  const body = `hangar egress proxy: ${reason}\n`;
  socket.end(
    `HTTP/1.1 ${status} ${statusText}\r\nContent-Type: text/plain; charset=utf-8\r\nContent-Length: ${Buffer.byteLength(body)}\r\nConnection: close\r\n\r\n${body}`,
  );
}

const STATUS_TEXT: Record<number, string> = { 400: 'Bad Request', 403: 'Forbidden', 502: 'Bad Gateway', 504: 'Gateway Timeout' };

export async function handleConnect(context: ProxyContext, request: IncomingMessage, client: Socket, head: Buffer): Promise<void> {
  const started = Date.now();
  const target = parseConnectTarget(request.url);
  client.on('error', () => undefined);
  if (target === undefined) {
    refuseRaw(client, 400, 'Bad Request', `CONNECT needs host:port, not ${JSON.stringify(request.url ?? '')}`);
    return;
  }
  const base = { method: 'CONNECT', host: target.host, port: target.port };
  const finish = decisionRecorder(context.record, { ...base, started });
  const name = context.policy.checkName(target.host, target.port);
  if (!name.allowed) {
    finish('denied', name.reason);
    refuseRaw(client, 403, 'Forbidden', name.reason);
    return;
  }
  const reads = tunnelReads();
  const dialed = await dial(target.host, target.port, context.resolver, context.addresses, { onread: reads.onread });
  if (!dialed.ok) {
    finish('denied', dialed.reason);
    refuseRaw(client, dialed.status, STATUS_TEXT[dialed.status] ?? 'Error', dialed.reason);
    return;
  }
  const upstream = dialed.socket;
  upstream.on('error', () => client.destroy());
  client.once('close', () => upstream.destroy());
  client.write('HTTP/1.1 200 Connection Established\r\n\r\n');

  const first = await readClientHello(client, head);
  const refusal = first.ok ? sniRefusal(target.host, target.port, first.serverName, first.tls) : first.reason;
  if (refusal !== undefined) {
    finish('denied', refusal, { address: dialed.address });
    client.destroy();
    upstream.destroy();
    return;
  }
  const buffered = first.ok ? first.data : Buffer.alloc(0);
  const interception = context.interception;
  if (first.ok && first.tls && interception?.secrets.intercepts(target.host, target.port) === true) {
    // A host with secrets: each request is read, given its secrets, sent on and recorded by itself.
    upstream.destroy();
    await serveIntercepted(context, interception, client, buffered, target.host, target.port);
    return;
  }
  upstream.write(buffered);
  client.pipe(upstream);
  reads.start(upstream, client);
  client.setTimeout(context.limits.idleTimeoutMs, () => client.destroy());
  upstream.setTimeout(context.limits.idleTimeoutMs, () => upstream.destroy());
  await new Promise<void>((resolve) => {
    let open = 2;
    const closed = (): void => {
      open -= 1;
      if (open === 0) resolve();
    };
    client.once('close', closed);
    upstream.once('close', closed);
  });
  finish('allowed', name.rule, { address: dialed.address, bytesOut: upstream.bytesWritten, bytesIn: upstream.bytesRead });
}

type FirstBytes = { ok: true; data: Buffer; tls: boolean; serverName?: string } | { ok: false; reason: string };

/** Buffers what the client sends until its ClientHello is whole (bounded in bytes and time). */
function readClientHello(client: Socket, head: Buffer): Promise<FirstBytes> {
  return new Promise((resolve) => {
    let data = head;
    const done = (outcome: FirstBytes): void => {
      clearTimeout(timer);
      client.off('data', onData);
      client.off('close', onClose);
      client.pause();
      resolve(outcome);
    };
    const check = (): boolean => {
      const parsed = parseClientHello(data);
      if (parsed.state === 'incomplete') {
        if (data.length >= MAX_CLIENT_HELLO_BYTES) done({ ok: false, reason: `no whole ClientHello in the first ${MAX_CLIENT_HELLO_BYTES} bytes` });
        return data.length >= MAX_CLIENT_HELLO_BYTES;
      }
      if (parsed.state === 'not-tls') done({ ok: true, data, tls: false });
      else if (parsed.state === 'invalid') done({ ok: false, reason: `malformed TLS ClientHello: ${parsed.reason}` });
      else done({ ok: true, data, tls: true, ...(parsed.serverName !== undefined ? { serverName: parsed.serverName } : {}) });
      return true;
    };
    const onData = (chunk: Buffer): void => {
      data = Buffer.concat([data, chunk]);
      check();
    };
    const onClose = (): void => done({ ok: false, reason: 'the client closed the tunnel before sending anything' });
    const timer = setTimeout(() => done({ ok: false, reason: `no ClientHello within ${CLIENT_HELLO_TIMEOUT_MS} ms` }), CLIENT_HELLO_TIMEOUT_MS);
    if (data.length > 0 && check()) return;
    client.on('data', onData);
    client.once('close', onClose);
  });
}

/** Why a tunnel's first bytes are refused, or undefined when they may go upstream. */
export function sniRefusal(host: string, port: number, serverName: string | undefined, tls: boolean): string | undefined {
  if (!tls) {
    // Plain protocols are tunnelled only to a port a rule names explicitly (ssh to :22...); on the
    // web ports a plain request would be routed by its Host header, which the proxy cannot pin here.
    return DEFAULT_PORTS.includes(port) ? `the tunnel to ${host}:${port} must carry TLS; send plain HTTP to the proxy as an http:// request` : undefined;
  }
  if (serverName === undefined) return isIP(host) !== 0 ? undefined : `the TLS ClientHello names no server; expected ${host}`;
  if (normalizeHost(serverName) !== host) return `the TLS server name ${serverName} differs from the CONNECT host ${host}`;
  return undefined;
}
