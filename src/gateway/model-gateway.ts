// The model gateway: the only way a sandbox reaches a model. It listens on a unix socket that each
// sandbox sees as a loopback port, accepts a per-session token instead of an API key, swaps in the
// real key, forwards to the upstream Messages API with the response streamed straight through, and
// meters the tokens of every call per session.
import { randomBytes } from 'node:crypto';
import { chmod, mkdir, rm } from 'node:fs/promises';
import http from 'node:http';
import path from 'node:path';
import type { Logger } from 'pino';
import { Agent, request } from 'undici';
import { addUsage, type TokenUsage, ZERO_USAGE } from '../store/store.js';
import { StreamUsageMeter, usageFromMessageJson, type MeteredCall } from './usage-meter.js';

export interface GatewaySessionUsage {
  total: TokenUsage;
  byModel: Record<string, TokenUsage>;
  /** Model calls forwarded upstream (failed ones included). */
  requests: number;
  /** Upstream responses with a status of 400 or more, and upstream connection failures. */
  failedRequests: number;
}

export interface ModelGatewaySettings {
  /** Unix socket the gateway listens on; sandboxes get it bound in. */
  socketPath: string;
  /** Base URL of the upstream Anthropic Messages API. */
  upstreamUrl: string;
  /** The real API key; sent upstream as x-api-key. Never leaves the host process. */
  upstreamApiKey?: string;
  requestTimeoutMs: number;
  /** Largest accepted request body in bytes. */
  maxRequestBytes?: number;
  logger: Logger;
}

export interface ModelGateway {
  readonly socketPath: string;
  /** Issues a fresh token for a session; the token is what the sandbox uses as its API key. */
  registerSession(sessionId: string): string;
  /** Invalidates the session's token; usage stays readable. */
  revokeSession(sessionId: string): void;
  usage(sessionId: string): GatewaySessionUsage;
  /** Returns the usage metered since the last drain and starts counting from zero. */
  drainUsage(sessionId: string): GatewaySessionUsage;
  /** Forgets a session's usage. */
  forgetSession(sessionId: string): void;
  close(): Promise<void>;
}

/** Paths a sandbox may call; everything else is refused (deny by default). */
const ALLOWED_ROUTES: ReadonlyArray<{ method: string; path: string }> = [
  { method: 'POST', path: '/v1/messages' },
  { method: 'POST', path: '/v1/messages/count_tokens' },
];

/** Request headers forwarded upstream; credentials and hop-by-hop headers are never copied. */
const FORWARDED_REQUEST_HEADERS = new Set(['anthropic-version', 'anthropic-beta', 'content-type', 'accept', 'user-agent', 'x-app']);
const DROPPED_RESPONSE_HEADERS = new Set(['connection', 'keep-alive', 'transfer-encoding', 'content-length', 'content-encoding']);

function anthropicError(response: http.ServerResponse, status: number, type: string, message: string): void {
  if (response.headersSent) {
    response.destroy();
    return;
  }
  const body = JSON.stringify({ type: 'error', error: { type, message } });
  response.writeHead(status, { 'content-type': 'application/json', 'content-length': Buffer.byteLength(body) });
  response.end(body);
}

function presentedToken(headers: http.IncomingHttpHeaders): string | undefined {
  const apiKey = headers['x-api-key'];
  if (typeof apiKey === 'string' && apiKey !== '') return apiKey;
  const authorization = headers.authorization;
  if (typeof authorization === 'string' && authorization.startsWith('Bearer ')) return authorization.slice(7);
  return undefined;
}

async function readBody(incoming: http.IncomingMessage, limit: number): Promise<Buffer | undefined> {
  const chunks: Buffer[] = [];
  let size = 0;
  for await (const chunk of incoming) {
    const buffer = chunk as Buffer;
    size += buffer.length;
    if (size > limit) return undefined;
    chunks.push(buffer);
  }
  return Buffer.concat(chunks);
}

/** Starts the gateway on its unix socket. */
export async function startModelGateway(settings: ModelGatewaySettings): Promise<ModelGateway> {
  const { logger } = settings;
  const maxRequestBytes = settings.maxRequestBytes ?? 32 * 1024 * 1024;
  const tokensBySession = new Map<string, string>();
  const sessionsByToken = new Map<string, string>();
  const usageBySession = new Map<string, GatewaySessionUsage>();
  const upstream = new URL(settings.upstreamUrl);
  const upstreamBasePath = upstream.pathname.replace(/\/$/, '');
  const dispatcher = new Agent({
    headersTimeout: settings.requestTimeoutMs,
    bodyTimeout: settings.requestTimeoutMs,
    keepAliveTimeout: 30_000,
  });

  const usageOf = (sessionId: string): GatewaySessionUsage => {
    let usage = usageBySession.get(sessionId);
    if (usage === undefined) {
      usage = { total: { ...ZERO_USAGE }, byModel: {}, requests: 0, failedRequests: 0 };
      usageBySession.set(sessionId, usage);
    }
    return usage;
  };

  const recordCall = (sessionId: string, call: MeteredCall): void => {
    const usage = usageOf(sessionId);
    usage.total = addUsage(usage.total, call.usage);
    usage.byModel[call.model] = addUsage(usage.byModel[call.model] ?? ZERO_USAGE, call.usage);
  };

  const handle = async (incoming: http.IncomingMessage, response: http.ServerResponse): Promise<void> => {
    const url = new URL(incoming.url ?? '/', 'http://gateway');
    const route = ALLOWED_ROUTES.find((candidate) => candidate.method === incoming.method && candidate.path === url.pathname);
    const token = presentedToken(incoming.headers);
    const sessionId = token === undefined ? undefined : sessionsByToken.get(token);
    if (sessionId === undefined) {
      anthropicError(response, 401, 'authentication_error', 'invalid or revoked Hangar session token');
      return;
    }
    if (route === undefined) {
      anthropicError(response, 404, 'not_found_error', `${incoming.method} ${url.pathname} is not available through the Hangar gateway`);
      return;
    }
    const body = await readBody(incoming, maxRequestBytes);
    if (body === undefined) {
      anthropicError(response, 413, 'request_too_large', `request body exceeds ${maxRequestBytes} bytes`);
      return;
    }
    let requestedModel = 'unknown';
    let streamed = false;
    try {
      const parsed = JSON.parse(body.toString('utf8')) as { model?: unknown; stream?: unknown };
      if (typeof parsed.model === 'string') requestedModel = parsed.model;
      streamed = parsed.stream === true;
    } catch {
      // The upstream answers malformed JSON with its own 400; the gateway forwards it unchanged.
    }

    const headers: Record<string, string> = { 'accept-encoding': 'identity' };
    for (const [name, value] of Object.entries(incoming.headers)) {
      if (FORWARDED_REQUEST_HEADERS.has(name) && typeof value === 'string') headers[name] = value;
    }
    if (settings.upstreamApiKey !== undefined) headers['x-api-key'] = settings.upstreamApiKey;

    const isMessagesCall = url.pathname === '/v1/messages';
    const usage = usageOf(sessionId);
    if (isMessagesCall) usage.requests += 1;
    const abort = new AbortController();
    response.on('close', () => {
      if (!response.writableFinished) abort.abort();
    });

    let upstreamResponse: Awaited<ReturnType<typeof request>>;
    try {
      upstreamResponse = await request(new URL(upstreamBasePath + url.pathname + url.search, upstream.origin), {
        method: 'POST',
        headers,
        body,
        dispatcher,
        signal: abort.signal,
      });
    } catch (error) {
      if (isMessagesCall) usage.failedRequests += 1;
      logger.warn({ sessionId, err: (error as Error).message }, 'gateway: upstream unreachable');
      anthropicError(response, 502, 'api_error', `Hangar gateway could not reach the model upstream: ${(error as Error).message}`);
      return;
    }
    if (isMessagesCall && upstreamResponse.statusCode >= 400) usage.failedRequests += 1;

    const responseHeaders: Record<string, string | string[]> = {};
    for (const [name, value] of Object.entries(upstreamResponse.headers)) {
      if (value !== undefined && !DROPPED_RESPONSE_HEADERS.has(name)) responseHeaders[name] = value;
    }
    response.writeHead(upstreamResponse.statusCode, responseHeaders);
    response.flushHeaders();

    const meter = isMessagesCall && streamed && upstreamResponse.statusCode < 400 ? new StreamUsageMeter(requestedModel) : undefined;
    const jsonChunks: Buffer[] = [];
    try {
      for await (const chunk of upstreamResponse.body) {
        const buffer = chunk as Buffer;
        meter?.push(buffer);
        if (isMessagesCall && !streamed && upstreamResponse.statusCode < 400) jsonChunks.push(buffer);
        if (!response.write(buffer)) await new Promise<void>((resolve) => response.once('drain', resolve));
      }
      response.end();
    } catch (error) {
      logger.warn({ sessionId, err: (error as Error).message }, 'gateway: upstream stream ended abnormally');
      response.destroy();
    } finally {
      const call = meter !== undefined ? meter.result() : jsonChunks.length > 0 ? usageFromMessageJson(Buffer.concat(jsonChunks).toString('utf8'), requestedModel) : undefined;
      if (call !== undefined) recordCall(sessionId, call);
    }
  };

  const server = http.createServer((incoming, response) => {
    handle(incoming, response).catch((error: unknown) => {
      logger.error({ err: error }, 'gateway: request failed');
      anthropicError(response, 500, 'api_error', 'Hangar gateway internal error');
    });
  });

  await mkdir(path.dirname(settings.socketPath), { recursive: true });
  await rm(settings.socketPath, { force: true });
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(settings.socketPath, () => {
      server.off('error', reject);
      resolve();
    });
  });
  // Sandboxes run under unprivileged uids; the token, not the socket's mode, is the access check.
  await chmod(settings.socketPath, 0o666);
  if (settings.upstreamApiKey === undefined) {
    logger.warn('gateway: no upstream API key configured (ANTHROPIC_API_KEY); requests go upstream without a key');
  }

  const revokeSession = (sessionId: string): void => {
    const token = tokensBySession.get(sessionId);
    if (token !== undefined) sessionsByToken.delete(token);
    tokensBySession.delete(sessionId);
  };

  return {
    socketPath: settings.socketPath,
    registerSession(sessionId) {
      const previous = tokensBySession.get(sessionId);
      if (previous !== undefined) sessionsByToken.delete(previous);
      const token = `hgr-${randomBytes(32).toString('base64url')}`;
      tokensBySession.set(sessionId, token);
      sessionsByToken.set(token, sessionId);
      usageOf(sessionId);
      return token;
    },
    revokeSession,
    usage(sessionId) {
      const usage = usageOf(sessionId);
      return { total: { ...usage.total }, byModel: structuredClone(usage.byModel), requests: usage.requests, failedRequests: usage.failedRequests };
    },
    drainUsage(sessionId) {
      const usage = usageOf(sessionId);
      usageBySession.set(sessionId, { total: { ...ZERO_USAGE }, byModel: {}, requests: 0, failedRequests: 0 });
      return usage;
    },
    forgetSession(sessionId) {
      revokeSession(sessionId);
      usageBySession.delete(sessionId);
    },
    async close() {
      server.closeAllConnections();
      await new Promise<void>((resolve) => server.close(() => resolve()));
      await dispatcher.close();
      await rm(settings.socketPath, { force: true });
    },
  };
}
