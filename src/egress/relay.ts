// Relays one HTTP request to an upstream over a connection made for it, and the answer back:
// shared by plain http:// forwarding and intercepted TLS. Hop-by-hop headers are dropped both
// ways; a failure before the answer starts becomes a 502 naming the upstream.
import type { ClientRequest, IncomingHttpHeaders, IncomingMessage, ServerResponse } from 'node:http';

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
