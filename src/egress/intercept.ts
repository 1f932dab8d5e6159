// TLS interception for the hosts a secret is declared for, and only those: the proxy answers the
// sandbox's TLS with a certificate of its own CA (trusted inside the sandbox), reads each HTTP/1.1
// request, puts the secrets in (secrets.ts), and sends it on over a new TLS connection to the real
// host with normal certificate verification. Each request is recorded.
import { createServer, type IncomingMessage, type ServerResponse } from 'node:http';
import { request as httpsRequest } from 'node:https';
import { isIP, type Socket } from 'node:net';
import { Duplex } from 'node:stream';
import { connect as tlsConnect, createSecureContext, TLSSocket } from 'node:tls';
import { decisionRecorder } from './audit.js';
import { dial } from './dial.js';
import { forwardHeaders, refuseResponse, relay } from './relay.js';
import type { Interception, ProxyContext } from './proxy-context.js';

/** Serves the intercepted tunnel of `client` (whose first bytes, `buffered`, were read already) until it closes. */
export async function serveIntercepted(
  context: ProxyContext,
  interception: Interception,
  client: Socket,
  buffered: Buffer,
  host: string,
  port: number,
): Promise<void> {
  const leaf = await interception.ca.leafFor(host);
  const tls = new TLSSocket(withPrefix(client, buffered), {
    isServer: true,
    secureContext: createSecureContext({ cert: leaf.certPem, key: leaf.keyPem }),
    ALPNProtocols: ['http/1.1'],
  });
  tls.on('error', () => client.destroy());
  const server = createServer({ maxHeaderSize: 16 * 1024, headersTimeout: 10_000, requestTimeout: 0 }, (request, response) => {
    forward(context, interception, request, response, host, port).catch(() => response.destroy());
  });
  server.on('clientError', (_error, socket) => socket.destroy());
  tls.setTimeout(context.limits.idleTimeoutMs, () => tls.destroy());
  server.emit('connection', tls);
  await new Promise<void>((resolve) => client.once('close', () => resolve()));
}

/**
 * A stream that yields `prefix`, then what `socket` reads, and writes to `socket`. (A TLSSocket
 * made over a net.Socket reads from its handle and would miss bytes already read from it.)
 */
function withPrefix(socket: Socket, prefix: Buffer): Duplex {
  const stream = new Duplex({
    read() {
      socket.resume();
    },
    write(chunk: Buffer, _encoding, callback) {
      socket.write(chunk, callback);
    },
    final(callback) {
      socket.end(callback);
    },
    destroy(error, callback) {
      socket.destroy();
      callback(error);
    },
  });
  if (prefix.length > 0) stream.push(prefix);
  socket.on('data', (chunk: Buffer) => {
    if (!stream.push(chunk)) socket.pause();
  });
  socket.once('end', () => stream.push(null));
  socket.once('close', () => stream.destroy());
  return stream;
}

async function forward(
  context: ProxyContext,
  interception: Interception,
  request: IncomingMessage,
  response: ServerResponse,
  host: string,
  port: number,
): Promise<void> {
  const started = Date.now();
  const method = request.method ?? 'GET';
  const path = request.url ?? '/';
  let bytesOut = 0;
  let bytesIn = 0;
  const record = decisionRecorder(context.record, { method, host, port, started });
  const finish = (verdict: 'allowed' | 'denied', reason: string, address?: string): void =>
    record(verdict, reason, { ...(address !== undefined ? { address } : {}), bytesOut, bytesIn });
  const refuse = (status: number, reason: string): void => {
    finish('denied', reason);
    refuseResponse(response, status, reason);
  };
  if (!path.startsWith('/')) return refuse(400, 'an intercepted request must use a path, not an absolute URL');
  const stray = interception.secrets.placeholdersIn(path);
  if (stray.length > 0) return refuse(403, `the placeholder of secret ${stray[0]} is in the URL; secrets go in headers only`);
  const rewritten = interception.secrets.rewrite(host, port, forwardHeaders(request.headers));
  if (!rewritten.ok) return refuse(403, rewritten.reason);
  const dialed = await dial(host, port, context.resolver, context.addresses);
  if (!dialed.ok) return refuse(dialed.status, dialed.reason);
  const upstreamTls = tlsConnect({
    socket: dialed.socket,
    ...(isIP(host) === 0 ? { servername: host } : {}),
    ALPNProtocols: ['http/1.1'],
    ...(interception.upstreamCa !== undefined ? { ca: interception.upstreamCa } : {}),
  });
  upstreamTls.setTimeout(context.limits.idleTimeoutMs, () => upstreamTls.destroy(new Error('idle timeout')));
  const hostHeader = port === 443 ? host : `${host}:${port}`;
  const upstream = httpsRequest({
    createConnection: () => upstreamTls,
    method,
    path,
    headers: { ...rewritten.headers, host: hostHeader, connection: 'close' },
    setHost: false,
  });
  await relay(request, response, upstream, `${host}:${port}`, {
    onEnd: () => {
      bytesOut = dialed.socket.bytesWritten;
      bytesIn = dialed.socket.bytesRead;
    },
    closeUpstream: () => upstreamTls.destroy(),
  });
  const injected = rewritten.injected.length > 0 ? `; injected ${rewritten.injected.join(', ')}` : '';
  finish('allowed', `intercepted for secrets${injected}`, dialed.address);
}
