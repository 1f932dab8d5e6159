// Relaying through the proxy. relay(): one HTTP request to an upstream over a connection made for
// it, and the answer back (plain http:// forwarding and intercepted TLS); hop-by-hop headers are
// dropped both ways, and a failure before the answer starts becomes a 502 naming the upstream.
// tunnelReads(): the bytes a tunnel's upstream sends, read into one buffer reused for every read and
// written to the client from there (no allocation and no stream machinery per chunk).
import type { ClientRequest, IncomingHttpHeaders, IncomingMessage, ServerResponse } from 'node:http';
import type { Socket } from 'node:net';

const HOP_BY_HOP = new Set([
  'connection',
  'keep-alive',
  'proxy-authorization',
  'proxy-authenticate',
  'proxy-connection',
  'te',
  'trailer',
  'transfer-encoding',
  'upgrade',
  'host',
]);

/** The headers to send on: hop-by-hop ones and those the Connection header names are dropped. */
export function forwardHeaders(headers: IncomingHttpHeaders): Record<string, string | string[]> {
  const named = new Set(
    String(headers.connection ?? '')
      .split(',')
      .map((token) => token.trim().toLowerCase())
      .filter(Boolean),
  );
  const out: Record<string, string | string[]> = {};
  for (const [key, value] of Object.entries(headers)) {
    if (value === undefined || HOP_BY_HOP.has(key) || named.has(key)) continue;
    out[key] = value;
  }
  return out;
}

/** Answers a request the proxy refuses, in plain text naming why. */
export function refuseResponse(response: ServerResponse, status: number, reason: string, headers: Record<string, string> = {}): void {
  const body = `hangar egress proxy: ${reason}\n`;
  response.writeHead(status, { 'content-type': 'text/plain; charset=utf-8', 'content-length': Buffer.byteLength(body), ...headers });
  response.end(body);
}

/**
 * Sends `request` on through `upstream` (a request not yet written) and pipes the answer into
 * `response`; resolves when the exchange is over, whichever way it ended. `onEnd` runs before it
 * resolves (to read the connection's byte counts); `closeUpstream` drops the connection when the
 * client goes away.
 */
export function relay(
  request: IncomingMessage,
  response: ServerResponse,
  upstream: ClientRequest,
  what: string,
  hooks: { onEnd: () => void; closeUpstream: () => void },
): Promise<void> {
  return new Promise<void>((resolve) => {
    let ended = false;
    const end = (): void => {
      if (ended) return;
      ended = true;
      hooks.onEnd();
      resolve();
    };
    upstream.on('response', (answer) => {
      response.writeHead(answer.statusCode ?? 502, answer.statusMessage, forwardHeaders(answer.headers));
      answer.pipe(response);
      answer.once('end', end);
      answer.once('error', () => {
        response.destroy();
        end();
      });
    });
    upstream.on('error', (error) => {
      if (!response.headersSent) refuseResponse(response, 502, `upstream ${what} failed: ${error.message}`);
      else response.destroy();
      end();
    });
    response.once('close', () => {
      hooks.closeUpstream();
      end();
    });
    request.pipe(upstream);
  });
}

/** Size of a tunnel's read buffer: one read of the upstream at most. */
export const TUNNEL_READ_BYTES = 64 * 1024;

export interface TunnelReads {
  /** For dial(): the upstream connection reads into this buffer and calls this callback. */
  onread: { buffer: Buffer; callback: (length: number, buffer: Buffer) => boolean };
  /**
   * Starts passing what `upstream` reads to `client` (first what it read before, kept as copies);
   * `client` is ended when `upstream` ends.
   */
  start(upstream: Socket, client: Socket): void;
}

/**
 * The download side of a tunnel. Each read is written to the client straight from the shared
 * buffer; when the client's socket cannot take it all at once (the bytes still refer to the
 * buffer), reading stops until that write completes, so a read never overwrites bytes not yet sent.
 * Before start(), a read is copied aside and reading stops.
 */
export function tunnelReads(size = TUNNEL_READ_BYTES): TunnelReads {
  const early: Buffer[] = [];
  let target: { upstream: Socket; client: Socket } | undefined;
  let waiting = false;
  const resumeAfterWrite = (): void => {
    if (!waiting) return;
    waiting = false;
    target?.upstream.resume();
  };
  /** Writes `chunk` to the client; true when the client's socket took all of it. */
  const passOn = (client: Socket, chunk: Buffer): boolean => {
    client.write(chunk, resumeAfterWrite);
    if (client.writableLength === 0) return true;
    waiting = true;
    return false;
  };
  return {
    onread: {
      buffer: Buffer.allocUnsafe(size),
      callback: (length, buffer) => {
        const chunk = buffer.subarray(0, length);
        if (target === undefined) {
          early.push(Buffer.from(chunk));
          return false;
        }
        return passOn(target.client, chunk);
      },
    },
    start(upstream, client) {
      target = { upstream, client };
      for (const chunk of early.splice(0)) client.write(chunk);
      if (upstream.readableEnded) client.end();
      else upstream.once('end', () => client.end());
      upstream.resume();
    },
  };
}
