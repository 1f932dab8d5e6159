// Plain HTTP through the proxy: a request in absolute form (`GET http://host/path`). The host is
// checked, resolved and dialed like a tunnel's; the request goes upstream with its Host header set to
// the URL's host (so a virtual host the policy did not allow cannot be named), without the
// proxy's own and hop-by-hop headers, over a connection used for this request only.
import { request as httpRequest, type IncomingMessage, type ServerResponse } from 'node:http';
import { decisionRecorder } from './audit.js';
import { dial } from './dial.js';
import { normalizeHost } from './host-rules.js';
import type { ProxyContext } from './proxy-context.js';
import { forwardHeaders, refuseResponse as refuse, relay } from './relay.js';

export async function handleHttpRequest(context: ProxyContext, request: IncomingMessage, response: ServerResponse): Promise<void> {
  const started = Date.now();
  let url: URL | undefined;
  try {
    url = request.url?.startsWith('http://') ? new URL(request.url) : undefined;
  } catch {
    url = undefined;
  }
  if (url === undefined) {
    refuse(
      response,
      400,
      `this is an egress proxy: send http://host/path requests, or CONNECT for https (got ${JSON.stringify(request.url?.slice(0, 200) ?? '')})`,
    );
    return;
  }
  const host = normalizeHost(url.hostname);
  const port = url.port === '' ? 80 : Number(url.port);
  const method = request.method ?? 'GET';
  let bytesOut = 0;
  let bytesIn = 0;
  const record = decisionRecorder(context.record, { method, host, port, started });
  const finish = (verdict: 'allowed' | 'denied', reason: string, address?: string): void =>
    record(verdict, reason, { ...(address !== undefined ? { address } : {}), bytesOut, bytesIn });
  const name = context.policy.checkName(host, port);
  if (!name.allowed) {
    finish('denied', name.reason);
    refuse(response, 403, name.reason);
    return;
  }
  // Secrets travel over TLS only: a placeholder in a plain request goes nowhere.
  const secrets = context.interception?.secrets;
  const stray = secrets === undefined ? [] : secrets.placeholdersIn(`${request.url ?? ''}\n${JSON.stringify(request.headers)}`);
  if (stray.length > 0) {
    const reason = `the placeholder of secret ${stray[0]} was sent over plain HTTP; secrets are injected over https only`;
    finish('denied', reason);
    refuse(response, 403, reason);
    return;
  }
  const dialed = await dial(host, port, context.resolver, context.addresses);
  if (!dialed.ok) {
    finish('denied', dialed.reason);
    refuse(response, dialed.status, dialed.reason);
    return;
  }
  const socket = dialed.socket;
  socket.setTimeout(context.limits.idleTimeoutMs, () => socket.destroy(new Error('idle timeout')));
  const upstream = httpRequest({
    createConnection: () => socket,
    method,
    path: `${url.pathname}${url.search}`,
    headers: { ...forwardHeaders(request.headers), host: url.host, connection: 'close' },
    setHost: false,
  });
  await relay(request, response, upstream, `${host}:${port}`, {
    onEnd: () => {
      bytesOut = socket.bytesWritten;
      bytesIn = socket.bytesRead;
    },
    closeUpstream: () => socket.destroy(),
  });
  finish('allowed', name.rule, dialed.address);
}
