// The model gateway: the only way a sandbox reaches a model. It listens on a unix socket that each
// sandbox sees as a loopback port, accepts a per-session token instead of an API key, swaps in the
// real key, forwards to the upstream Messages API with the response streamed straight through, and
// meters the tokens of every call per session. What a sandbox can make it hold is bounded: request
// bodies are capped and read within a deadline, each token has a budget of open requests and
// buffered bytes, and only allowlisted query parameters, betas and body fields go upstream. A
// session given a budget (setBudget) has its calls refused once it is spent, before they go up;
// "try again" answers are retried (forward-upstream.ts); the key may come from a file, re-read.
// Each token belongs to a tenant, held to its policy's calls per minute and spend per UTC day
// (tenant-limits.ts) before its session's own budget.
import { randomBytes } from 'node:crypto';
import { rm } from 'node:fs/promises';
import http from 'node:http';
import type { Logger } from 'pino';
import { presentedToken } from '../auth/api-keys.js';
import { listenForSandboxes } from '../runtime/sandbox-socket.js';
import { Agent } from 'undici';
import { addUsage, DEFAULT_TENANT_ID, type TokenUsage, ZERO_USAGE } from '../store/store.js';
import type { TenantGatewayLimits } from './tenant-limits.js';
import { declaredContentLength, readRequestBody } from './read-request-body.js';
import { createInFlightLimiter, type InFlightLimiter } from './request-limits.js';
import { checkBetas, checkBody, checkQuery, createRequestPolicy, isRefusal } from './request-policy.js';
import { anthropicError, REFUSAL_ANSWERS, type GatewayRefusalReason } from './refusals.js';
import { forwardUpstream, type ForwardContext } from './forward-upstream.js';
import { DEFAULT_FALLBACK_PRICE, DEFAULT_PRICES } from '../config/config.js';
import type { PriceTable } from './pricing.js';
import { createSessionBudgets } from './session-budgets.js';
import { upstreamLabel } from './upstream-error.js';
import { createUpstreamKeySource } from './upstream-key.js';
import { DEFAULT_RETRY, type RetrySettings } from './upstream-retry.js';
import type { MeteredCall } from './usage-meter.js';

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
  /** A file holding the real API key instead (a mounted secret), re-read when it changes and on reloadUpstreamKey(). */
  upstreamApiKeyFile?: string;
  /** Retries of upstream 429/529/5xx answers and failed connections (upstream-retry.ts). */
  retry?: Partial<RetrySettings>;
  /** Prices to turn metered tokens into the USD that budgets count (setBudget); default the built-in list prices. */
  prices?: PriceTable;
  requestTimeoutMs: number;
  /** Largest accepted request body in bytes; a larger Content-Length is refused before reading. Default 16 MiB. */
  maxRequestBytes?: number;
  /** Requests one session token may have open at once. Default 8. */
  maxConcurrentRequestsPerToken?: number;
  /** Per-tenant model calls per minute and spend per day (tenant-limits.ts); none: tenants have no limits at the gateway. */
  tenantLimits?: TenantGatewayLimits;
  /** Request-body bytes one token may have buffered at once. Default 2 x maxRequestBytes. */
  maxInFlightBytesPerToken?: number;
  /** Request-body bytes the whole gateway may have buffered at once. Default 256 MiB. */
  maxInFlightBytes?: number;
  /** Milliseconds a client has to send its request headers. Default 10 s. */
  headersTimeoutMs?: number;
  /** Milliseconds a client has to send its whole request body. Default 30 s. */
  bodyTimeoutMs?: number;
  /** Open connections the gateway accepts at once, all sandboxes together. Default 1024. */
  maxConnections?: number;
  /** anthropic-beta values allowed on top of the built-in list. */
  allowedBetas?: readonly string[];
  /** Top-level body fields allowed on top of the built-in list. */
  allowedBodyFields?: readonly string[];
  /** Forward server tools (web search/fetch, code execution), mcp_servers and URL/file sources. Default false. */
  allowServerTools?: boolean;
  logger: Logger;
}

export type { GatewayRefusalReason } from './refusals.js';

export interface GatewayStats {
  /** Requests refused, by reason, since the gateway started. */
  refused: Partial<Record<GatewayRefusalReason, number>>;
  /** Requests open now (reading, upstream or streaming back) and request-body bytes buffered now. */
  openRequests: number;
  bufferedBytes: number;
  /** Sessions whose usage the gateway holds now (registered and not yet forgotten). */
  sessionsHeld: number;
}

export interface ModelGateway {
  readonly socketPath: string;
  /** The upstream as users may see it (upstream-error.ts upstreamLabel): no credentials. */
  readonly upstreamLabel: string;
  /** Issues a fresh token for a session (of a tenant: default the default one); the token is what the sandbox uses as its API key. */
  registerSession(sessionId: string, tenantId?: string): string;
  /** Invalidates the session's token; usage stays readable. */
  revokeSession(sessionId: string): void;
  /**
   * Gives a session a limit in USD, on top of what it had spent before: once the calls metered
   * since reach it, its model calls are refused (402 billing_error) before going upstream.
   * undefined removes the limit.
   */
  setBudget(sessionId: string, budget: { limitUsd: number; spentUsd: number } | undefined): void;
  /** Re-reads the upstream API key file (SIGHUP). */
  reloadUpstreamKey(): Promise<void>;
  usage(sessionId: string): GatewaySessionUsage;
  /** Returns the usage metered since the last drain and starts counting from zero. */
  drainUsage(sessionId: string): GatewaySessionUsage;
  /** Forgets a session's usage. */
  forgetSession(sessionId: string): void;
  /** Refusal counts and what is held in memory now. */
  stats(): GatewayStats;
  close(): Promise<void>;
}

/** Paths a sandbox may call; everything else is refused (deny by default). */
const ALLOWED_ROUTES: ReadonlyArray<{ method: string; path: string }> = [
  { method: 'POST', path: '/v1/messages' },
  { method: 'POST', path: '/v1/messages/count_tokens' },
];

/** Starts the gateway on its unix socket. */
export async function startModelGateway(settings: ModelGatewaySettings): Promise<ModelGateway> {
  const { logger } = settings;
  const maxRequestBytes = settings.maxRequestBytes ?? 16 * 1024 * 1024;
  const bodyTimeoutMs = settings.bodyTimeoutMs ?? 30_000;
  const headersTimeoutMs = settings.headersTimeoutMs ?? 10_000;
  const policy = createRequestPolicy({
    ...(settings.allowedBetas !== undefined ? { allowedBetas: settings.allowedBetas } : {}),
    ...(settings.allowedBodyFields !== undefined ? { allowedBodyFields: settings.allowedBodyFields } : {}),
    allowServerTools: settings.allowServerTools ?? false,
  });
  const limiter: InFlightLimiter = createInFlightLimiter({
    maxConcurrentPerToken: settings.maxConcurrentRequestsPerToken ?? 8,
    maxInFlightBytesPerToken: settings.maxInFlightBytesPerToken ?? 2 * maxRequestBytes,
    maxInFlightBytes: settings.maxInFlightBytes ?? 256 * 1024 * 1024,
  });
  const tokensBySession = new Map<string, string>();
  const tenantBySession = new Map<string, string>();
  const tenantOf = (sessionId: string): string => tenantBySession.get(sessionId) ?? DEFAULT_TENANT_ID;
  const tenantLimits = settings.tenantLimits;
  const sessionsByToken = new Map<string, string>();
  const usageBySession = new Map<string, GatewaySessionUsage>();
  const refused: Partial<Record<GatewayRefusalReason, number>> = {};
  const refusalLogged = new Map<string, { at: number; suppressed: number }>();
  const upstream = new URL(settings.upstreamUrl);
  const label = upstreamLabel(settings.upstreamUrl);
  const key = await createUpstreamKeySource({
    ...(settings.upstreamApiKey !== undefined ? { key: settings.upstreamApiKey } : {}),
    ...(settings.upstreamApiKeyFile !== undefined ? { file: settings.upstreamApiKeyFile } : {}),
    logger,
  });
  const budgets = createSessionBudgets(settings.prices ?? { models: DEFAULT_PRICES, fallback: DEFAULT_FALLBACK_PRICE });
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

  /** Meters a call to its session and to `tenantId`, the tenant it was admitted for (the session may be forgotten by the time it ends). */
  /** Counts a metered call: to its session while the session is known (a call that outlives forgetSession adds no entry back), and to its tenant always. */
  const recordCall = (sessionId: string, call: MeteredCall, tenantId: string): void => {
    tenantLimits?.meter(tenantId, call.model, call.usage);
    const usage = usageBySession.get(sessionId);
    if (usage === undefined) return;
    usage.total = addUsage(usage.total, call.usage);
    usage.byModel[call.model] = addUsage(usage.byModel[call.model] ?? ZERO_USAGE, call.usage);
    budgets.meter(sessionId, call.model, call.usage);
  };

  const forwardContext: ForwardContext = {
    upstream,
    label,
    dispatcher,
    key,
    retry: { ...DEFAULT_RETRY, ...settings.retry },
    logger,
    onAttempt(sessionId, failed) {
      const usage = usageBySession.get(sessionId);
      if (usage === undefined) return;
      usage.requests += 1;
      if (failed) usage.failedRequests += 1;
    },
    onMetered: (sessionId, call) => recordCall(sessionId, call, tenantOf(sessionId)),
  };

  /** Counts a refusal, logs it (at most once a minute per session and reason; never the token or body) and answers. */
  const refuse = (
    response: http.ServerResponse,
    sessionId: string | undefined,
    reason: GatewayRefusalReason,
    message: string,
    bodyUnread: boolean,
    retryAfterSec?: number,
  ): void => {
    refused[reason] = (refused[reason] ?? 0) + 1;
    const key = `${sessionId ?? '-'}:${reason}`;
    const now = Date.now();
    const last = refusalLogged.get(key);
    if (last === undefined || now - last.at >= 60_000) {
      logger.warn({ sessionId, reason, detail: message, suppressedSinceLast: last?.suppressed ?? 0 }, 'gateway: request refused');
      refusalLogged.set(key, { at: now, suppressed: 0 });
      if (refusalLogged.size > 10_000) refusalLogged.clear();
    } else {
      last.suppressed += 1;
    }
    const answer = REFUSAL_ANSWERS[reason];
    anthropicError(response, answer.status, answer.type, message, bodyUnread, retryAfterSec === undefined ? {} : { 'retry-after': String(retryAfterSec) });
  };

  const handle = async (incoming: http.IncomingMessage, response: http.ServerResponse): Promise<void> => {
    const url = new URL(incoming.url ?? '/', 'http://gateway');
    const route = ALLOWED_ROUTES.find((candidate) => candidate.method === incoming.method && candidate.path === url.pathname);
    const token = presentedToken(incoming.headers);
    const sessionId = token === undefined ? undefined : sessionsByToken.get(token);
    if (sessionId === undefined) return refuse(response, undefined, 'unauthenticated', 'invalid or revoked Hangar session token', true);
    if (route === undefined) {
      return refuse(response, sessionId, 'route', `${incoming.method} ${url.pathname} is not available through the Hangar gateway`, true);
    }
    const query = checkQuery(url.search);
    if (isRefusal(query)) return refuse(response, sessionId, query.reason, query.message, true);
    const betas = checkBetas(incoming.headers['anthropic-beta'], policy);
    if (isRefusal(betas)) return refuse(response, sessionId, betas.reason, betas.message, true);
    const declared = declaredContentLength(incoming.headers);
    if (declared !== undefined && !(declared <= maxRequestBytes)) {
      return refuse(response, sessionId, 'too_large', `request body exceeds ${maxRequestBytes} bytes (gateway.maxRequestBytes)`, true);
    }

    const ticket = limiter.acquire(sessionId);
    if (isRefusal(ticket)) return refuse(response, sessionId, ticket.reason, ticket.message, true);
    try {
      const reservation = declared === undefined ? undefined : ticket.reserve(declared);
      if (reservation !== undefined) return refuse(response, sessionId, reservation.reason, reservation.message, true);
      const read = await readRequestBody(incoming, { maxBytes: maxRequestBytes, declaredLength: declared, ticket, timeoutMs: bodyTimeoutMs });
      if (!read.ok) return refuse(response, sessionId, read.reason, read.message, true);
      const checked = checkBody(read.body, policy);
      if (isRefusal(checked)) return refuse(response, sessionId, checked.reason, checked.message, false);
      // The tenant's calls per minute and spend per day (tenant-limits.ts), then the session's own budget.
      const tenantId = tenantOf(sessionId);
      const tenantAdmission = tenantLimits === undefined ? { ok: true as const } : await tenantLimits.admit(tenantId, url.pathname === '/v1/messages');
      if (!tenantAdmission.ok) return refuse(response, sessionId, tenantAdmission.reason, tenantAdmission.message, false, tenantAdmission.retryAfterSec);
      // A budgeted session's calls go up one at a time, each only while budget is left.
      const admitted = url.pathname === '/v1/messages' ? await budgets.admit(sessionId) : { ok: true as const, release: () => undefined };
      if (!admitted.ok) return refuse(response, sessionId, 'budget', admitted.message, false);
      try {
        const call = {
          incoming,
          response,
          sessionId,
          pathname: url.pathname,
          search: query.search,
          beta: betas.header,
          body: read.body,
          model: checked.model ?? 'unknown',
          streamed: checked.stream,
        };
        // Its spend goes to the tenant it was admitted for, even if its session is closed while it streams.
        const metering = { ...forwardContext, onMetered: (id: string, metered: MeteredCall) => recordCall(id, metered, tenantId) };
        await forwardUpstream(metering, { ...call, releaseBody: () => ticket.releaseBytes() });
      } finally {
        admitted.release();
      }
    } finally {
      ticket.release();
    }
  };

  const server = http.createServer(
    {
      maxHeaderSize: 16 * 1024,
      headersTimeout: headersTimeoutMs,
      // Node's own backstop; the body deadline above answers first with a clean 408.
      requestTimeout: headersTimeoutMs + bodyTimeoutMs + 5_000,
      connectionsCheckingInterval: 1_000,
      keepAliveTimeout: 5_000,
    },
    (incoming, response) => {
      handle(incoming, response).catch((error: unknown) => {
        logger.error({ err: error }, 'gateway: request failed');
        anthropicError(response, 500, 'api_error', 'Hangar gateway internal error', true);
      });
    },
  );
  server.maxConnections = settings.maxConnections ?? 1024;

  await listenForSandboxes(server, settings.socketPath);
  if (key.current() === undefined) {
    logger.warn('gateway: no upstream API key configured (ANTHROPIC_API_KEY); requests go upstream without a key');
  }

  const revokeSession = (sessionId: string): void => {
    const token = tokensBySession.get(sessionId);
    if (token !== undefined) sessionsByToken.delete(token);
    tokensBySession.delete(sessionId);
  };

  return {
    upstreamLabel: label,
    socketPath: settings.socketPath,
    registerSession(sessionId, tenantId = DEFAULT_TENANT_ID) {
      tenantBySession.set(sessionId, tenantId);
      const previous = tokensBySession.get(sessionId);
      if (previous !== undefined) sessionsByToken.delete(previous);
      const token = `hgr-${randomBytes(32).toString('base64url')}`;
      tokensBySession.set(sessionId, token);
      sessionsByToken.set(token, sessionId);
      usageOf(sessionId);
      return token;
    },
    revokeSession,
    setBudget(sessionId, budget) {
      budgets.set(sessionId, budget);
    },
    reloadUpstreamKey: () => key.reload(),
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
      tenantBySession.delete(sessionId);
      budgets.forget(sessionId);
    },
    stats() {
      const open = limiter.stats();
      return { refused: { ...refused }, openRequests: open.requests, bufferedBytes: open.bytes, sessionsHeld: usageBySession.size };
    },
    async close() {
      server.closeAllConnections();
      await new Promise<void>((resolve) => server.close(() => resolve()));
      await dispatcher.close();
      await tenantLimits?.flush();
      key.close();
      await rm(settings.socketPath, { force: true });
    },
  };
}
