// The scripted model server: an Anthropic Messages API look-alike that answers from a scenario.
// The Claude Code CLI runs against it unchanged (ANTHROPIC_BASE_URL), so agents and Hangar's own
// tests run offline and deterministically. Every request is recorded; /_scripted/ drives it remotely.
import { lstat, unlink } from 'node:fs/promises';
import { createServer, type Server, type ServerResponse } from 'node:http';
import Fastify, { LogController, type FastifyBaseLogger, type FastifyReply, type FastifyRequest } from 'fastify';
import type pino from 'pino';
import { HangarError, isHangarError } from '../errors/errors.js';
import {
  classifyRequest,
  countTokensRequestSchema,
  describeRequestError,
  estimateInputTokens,
  matchSubject,
  messagesRequestSchema,
  sampleFromJsonSchema,
  type MessagesRequest,
} from './messages-request.js';
import { createReplyCursor, type ReplyCursor, type ReplyUse } from './reply-cursor.js';
import { parseScenario, type Scenario, type ScenarioContentBlock, type ScenarioReply } from './scenario.js';
import { errorBody, errorTypeForStatus, estimateOutputTokens, formatSseEvent, messageEvents, newId, toMessageContent, type AnthropicMessage } from './sse.js';

export interface ScriptedModelServerOptions {
  scenario: Scenario;
  /** Interface to listen on; default 127.0.0.1. */
  host?: string;
  /** TCP port; default 0 (any free port). */
  port?: number;
  /** Also listen on this unix socket path (for ANTHROPIC_UNIX_SOCKET or a socat bridge). */
  socketPath?: string;
  /** Logger for one line per request; default silent. */
  logger?: pino.Logger | false;
  /** Most requests kept in `requests`; the oldest are dropped past it. Default 1000. */
  maxRecordedRequests?: number;
}

export type RecordedRequestKind = 'main' | 'auxiliary' | 'count_tokens' | 'other';

export type RecordedOutcome = 'message' | 'fault' | 'cut' | 'auxiliary-default' | 'exhausted' | 'invalid' | 'not-found' | 'count-tokens';

export interface RecordedRequest {
  /** 1-based order of arrival. */
  seq: number;
  /** ISO time the request arrived. */
  time: string;
  method: string;
  /** Path with query string, e.g. `/v1/messages?beta=true`. */
  path: string;
  /** Request headers; x-api-key and authorization keep only their last 4 characters. */
  headers: Record<string, string>;
  /** Parsed JSON body; undefined when there was none or it was not JSON. */
  body: unknown;
  kind: RecordedRequestKind;
  /** Why the request was classified auxiliary. */
  auxiliaryReason?: string;
  /** Index in scenario.replies of the reply that answered; -1 for a whenExhausted text. */
  replyIndex?: number;
  outcome: RecordedOutcome;
  /** HTTP status sent (200 for a stream even if it was cut later). */
  status: number;
  stream?: boolean;
}

export interface ScriptedModelServer {
  /** Base URL for ANTHROPIC_BASE_URL, e.g. http://127.0.0.1:40123. */
  url: string;
  port: number;
  /** Unix socket path, when one was asked for. */
  socketPath?: string;
  /** Every request so far, in order of arrival (same array for the server's lifetime). */
  requests: RecordedRequest[];
  /** Replaces the scenario, resets reply uses and clears the recorded requests. */
  setScenario(scenario: Scenario): void;
  /** How often each reply of the current scenario has been used. */
  replyUses(): ReplyUse[];
  close(): Promise<void>;
}

/** Text a side request gets when no reply is scripted for it. */
const AUXILIARY_DEFAULT_TEXT = 'OK';

function redactHeaders(headers: FastifyRequest['headers']): Record<string, string> {
  const out: Record<string, string> = {};
  for (const [name, value] of Object.entries(headers)) {
    if (value === undefined) continue;
    const text = Array.isArray(value) ? value.join(', ') : value;
    out[name] = name === 'x-api-key' || name === 'authorization' ? `***${text.slice(-4)}` : text;
  }
  return out;
}

/** Resolves after `ms`, or at once when the signal aborts. */
function sleep(ms: number, signal: AbortSignal): Promise<void> {
  if (ms <= 0 || signal.aborted) return Promise.resolve();
  return new Promise((resolve) => {
    const timer = setTimeout(done, ms);
    function done(): void {
      clearTimeout(timer);
      signal.removeEventListener('abort', done);
      resolve();
    }
    signal.addEventListener('abort', done, { once: true });
  });
}

/** Writes a chunk and resolves once it is handed to the socket (or the response is gone). */
function write(res: ServerResponse, chunk: string): Promise<void> {
  if (res.destroyed || res.writableEnded) return Promise.resolve();
  return new Promise((resolve) => {
    res.write(chunk, () => resolve());
  });
}

function urlHost(host: string): string {
  if (host === '0.0.0.0' || host === '::') return '127.0.0.1';
  return host.includes(':') ? `[${host}]` : host;
}

export async function startScriptedModelServer(options: ScriptedModelServerOptions): Promise<ScriptedModelServer> {
  let scenario = parseScenario(options.scenario);
  let cursor: ReplyCursor = createReplyCursor(scenario);
  const requests: RecordedRequest[] = [];
  const maxRecorded = options.maxRecordedRequests ?? 1000;
  let seq = 0;
  /** Aborted on close(), so delayed or slow responses stop at once. */
  const closing = new AbortController();

  const common = {
    bodyLimit: 64 * 1024 * 1024,
    forceCloseConnections: true,
    // The server logs one line per request itself (see log()).
    logController: new LogController({ disableRequestLogging: true }),
  };
  const app = options.logger ? Fastify({ ...common, loggerInstance: options.logger as FastifyBaseLogger }) : Fastify({ ...common, logger: false });

  function record(request: FastifyRequest, entry: Omit<RecordedRequest, 'seq' | 'time' | 'method' | 'path' | 'headers'>): RecordedRequest {
    const recorded: RecordedRequest = {
      seq: ++seq,
      time: new Date().toISOString(),
      method: request.method,
      path: request.url,
      headers: redactHeaders(request.headers),
      ...entry,
    };
    requests.push(recorded);
    if (requests.length > maxRecorded) requests.splice(0, requests.length - maxRecorded);
    return recorded;
  }

  function log(recorded: RecordedRequest): void {
    app.log.info(
      {
        seq: recorded.seq,
        path: recorded.path,
        kind: recorded.kind,
        replyIndex: recorded.replyIndex,
        outcome: recorded.outcome,
        status: recorded.status,
      },
      'scripted model request',
    );
  }

  function sendError(reply: FastifyReply, status: number, type: string, message: string): FastifyReply {
    const requestId = newId('req');
    return reply
      .code(status)
      .header('request-id', requestId)
      .send(errorBody(type, message, requestId));
  }

  /** Streams a message as SSE; with `cutAfter`, destroys the connection after that many events. */
  async function stream(
    request: FastifyRequest,
    reply: FastifyReply,
    message: AnthropicMessage,
    chunkDelayMs: number,
    cutAfter: number | undefined,
  ): Promise<void> {
    reply.hijack();
    const res = reply.raw;
    const gone = new AbortController();
    const abort = (): void => gone.abort();
    res.on('close', abort);
    closing.signal.addEventListener('abort', abort, { once: true });
    const signal = gone.signal;
    try {
      res.writeHead(200, {
        'content-type': 'text/event-stream; charset=utf-8',
        'cache-control': 'no-cache',
        connection: 'keep-alive',
        'request-id': newId('req'),
      });
      // The status line goes out at once, so even a cut after 0 events is a started stream.
      res.flushHeaders();
      const events = messageEvents(message);
      for (const [i, event] of events.entries()) {
        if (cutAfter !== undefined && i >= cutAfter) break;
        if (signal.aborted) return;
        if (i > 0) await sleep(chunkDelayMs, signal);
        if (signal.aborted) return;
        await write(res, formatSseEvent(event));
      }
      if (cutAfter !== undefined) {
        request.raw.socket.destroy();
        return;
      }
      res.end();
    } finally {
      res.off('close', abort);
      closing.signal.removeEventListener('abort', abort);
    }
  }

  function buildMessage(request: MessagesRequest, content: ScenarioContentBlock[], scripted: ScenarioReply): AnthropicMessage {
    const blocks = toMessageContent(content);
    const usage = scripted.usage ?? {};
    return {
      id: newId('msg'),
      type: 'message',
      role: 'assistant',
      model: scenario.model ?? request.model,
      content: blocks,
      stop_reason: scripted.stopReason ?? (blocks.some((b) => b.type === 'tool_use') ? 'tool_use' : 'end_turn'),
      stop_sequence: null,
      usage: {
        input_tokens: usage.inputTokens ?? estimateInputTokens(request),
        output_tokens: usage.outputTokens ?? estimateOutputTokens(blocks),
        cache_creation_input_tokens: usage.cacheCreationInputTokens ?? 0,
        cache_read_input_tokens: usage.cacheReadInputTokens ?? 0,
      },
    };
  }

  /** Content of the default answer to a side request: JSON for a structured-output request, else OK. */
  function auxiliaryDefault(request: MessagesRequest): ScenarioContentBlock[] {
    const format = request.output_config?.format;
    if (format?.type === 'json_schema') {
      return [{ type: 'text', text: JSON.stringify(sampleFromJsonSchema(format['schema'])) }];
    }
    return [{ type: 'text', text: AUXILIARY_DEFAULT_TEXT }];
  }

  app.post('/v1/messages', async (request, reply) => {
    const parsed = messagesRequestSchema.safeParse(request.body);
    if (!parsed.success) {
      log(record(request, { body: request.body, kind: 'other', outcome: 'invalid', status: 400 }));
      return sendError(reply, 400, 'invalid_request_error', describeRequestError(parsed.error));
    }
    const body = parsed.data;
    const streamed = body.stream === true;
    const classification = (scenario.auxiliary ?? 'auto') === 'auto' ? classifyRequest(body) : { kind: 'main' as const };
    const selection = cursor.select(matchSubject(body, classification.kind));
    const base = {
      body: request.body,
      kind: classification.kind,
      ...(classification.reason === undefined ? {} : { auxiliaryReason: classification.reason }),
      stream: streamed,
    };

    if (selection.type === 'exhausted') {
      log(record(request, { ...base, outcome: 'exhausted', status: 500 }));
      const used = cursor.uses().reduce((sum, use) => sum + use.used, 0);
      // x-should-retry: false stops the CLI from retrying a 500 (10 retries over ~3 minutes).
      return sendError(
        reply.header('x-should-retry', 'false'),
        500,
        'api_error',
        `Scripted scenario exhausted: no reply left for this request (${used} replies used). ` +
          'Start it over by restarting `hangar model serve` or with POST /_scripted/reset; to loop, serve it with --loop or set "whenExhausted": "restart" in the scenario (docs/scenarios.md)',
      );
    }

    let scripted: ScenarioReply;
    let replyIndex: number | undefined;
    if (selection.type === 'auxiliary-default') {
      scripted = { content: auxiliaryDefault(body) };
    } else {
      scripted = selection.reply;
      replyIndex = selection.index;
    }
    const indexed = replyIndex === undefined ? {} : { replyIndex };

    // Recorded on arrival, so a delayed request is visible while it waits.
    const fault = scripted.fault;
    const httpFault = fault !== undefined && 'status' in fault ? fault : undefined;
    const cutAfter = fault !== undefined && 'cutAfterEvents' in fault ? fault.cutAfterEvents : undefined;
    const outcome: RecordedOutcome =
      httpFault !== undefined ? 'fault' : cutAfter !== undefined ? 'cut' : selection.type === 'auxiliary-default' ? 'auxiliary-default' : 'message';
    log(record(request, { ...base, ...indexed, outcome, status: httpFault?.status ?? 200 }));
    await sleep(scripted.delayMs ?? 0, closing.signal);

    if (httpFault !== undefined) {
      if (httpFault.retryAfterSec !== undefined) reply.header('retry-after', String(httpFault.retryAfterSec));
      if (httpFault.shouldRetry !== undefined) reply.header('x-should-retry', String(httpFault.shouldRetry));
      return sendError(
        reply,
        httpFault.status,
        httpFault.errorType ?? errorTypeForStatus(httpFault.status),
        httpFault.message ?? `Scripted fault: HTTP ${httpFault.status}`,
      );
    }

    const message = buildMessage(body, scripted.content ?? [], scripted);
    if (streamed) {
      await stream(request, reply, message, scripted.chunkDelayMs ?? 0, cutAfter);
      return reply;
    }
    if (cutAfter !== undefined) {
      reply.hijack();
      request.raw.socket.destroy();
      return reply;
    }
    return reply.header('request-id', newId('req')).send(message);
  });

  app.post('/v1/messages/count_tokens', async (request, reply) => {
    const parsed = countTokensRequestSchema.safeParse(request.body);
    if (!parsed.success) {
      log(record(request, { body: request.body, kind: 'count_tokens', outcome: 'invalid', status: 400 }));
      return sendError(reply, 400, 'invalid_request_error', describeRequestError(parsed.error));
    }
    log(record(request, { body: request.body, kind: 'count_tokens', outcome: 'count-tokens', status: 200 }));
    return { input_tokens: estimateInputTokens(parsed.data) };
  });

  app.get('/_scripted/requests', async () => ({ requests }));

  app.delete('/_scripted/requests', async () => {
    requests.length = 0;
    return { cleared: true };
  });

  app.get('/_scripted/scenario', async () => ({ scenario, uses: cursor.uses() }));

  app.post('/_scripted/reset', async () => {
    cursor = createReplyCursor(scenario);
    return { ok: true, replies: scenario.replies.length };
  });

  app.post('/_scripted/scenario', async (request) => {
    setScenario(parseScenario(request.body, 'posted scenario'));
    return { ok: true, replies: scenario.replies.length };
  });

  app.setNotFoundHandler(async (request, reply) => {
    const isControl = request.url.startsWith('/_scripted/');
    if (isControl) {
      return reply.code(404).send(new HangarError('NOT_FOUND', `no control endpoint ${request.method} ${request.url}`).toBody());
    }
    log(record(request, { body: request.body, kind: 'other', outcome: 'not-found', status: 404 }));
    return sendError(reply, 404, 'not_found_error', `Not found: ${request.method} ${request.url}`);
  });

  app.setErrorHandler(async (error, request, reply) => {
    if (request.url.startsWith('/_scripted/')) {
      const hangar = isHangarError(error) ? error : new HangarError('BAD_REQUEST', error instanceof Error ? error.message : String(error));
      return reply.code(hangar.httpStatus).send(hangar.toBody());
    }
    const status = typeof (error as { statusCode?: unknown }).statusCode === 'number' ? (error as { statusCode: number }).statusCode : 500;
    const message = error instanceof Error ? error.message : String(error);
    log(record(request, { body: undefined, kind: 'other', outcome: 'invalid', status }));
    return sendError(reply, status, errorTypeForStatus(status), message);
  });

  function setScenario(next: Scenario): void {
    scenario = parseScenario(next);
    cursor = createReplyCursor(scenario);
    requests.length = 0;
  }

  await app.listen({ host: options.host ?? '127.0.0.1', port: options.port ?? 0 });
  const address = app.server.address();
  if (address === null || typeof address === 'string') {
    await app.close();
    throw new HangarError('INTERNAL', 'scripted model server has no TCP address');
  }

  let socketServer: Server | undefined;
  if (options.socketPath !== undefined) {
    const socketPath = options.socketPath;
    const existing = await lstat(socketPath).catch(() => undefined);
    if (existing?.isSocket()) await unlink(socketPath);
    socketServer = createServer((req, res) => app.routing(req, res));
    const server = socketServer;
    try {
      await new Promise<void>((resolve, reject) => {
        server.once('error', reject);
        server.listen(socketPath, () => {
          server.off('error', reject);
          resolve();
        });
      });
    } catch (error) {
      await app.close();
      throw new HangarError('INTERNAL', `cannot listen on ${socketPath}: ${(error as Error).message}`, {
        cause: error,
      });
    }
  }

  const host = options.host ?? '127.0.0.1';
  return {
    url: `http://${urlHost(host)}:${address.port}`,
    port: address.port,
    ...(options.socketPath === undefined ? {} : { socketPath: options.socketPath }),
    requests,
    setScenario,
    replyUses: () => cursor.uses(),
    async close() {
      closing.abort();
      if (socketServer !== undefined) {
        const server = socketServer;
        server.closeAllConnections();
        await new Promise<void>((resolve) => server.close(() => resolve()));
        if (options.socketPath !== undefined) await unlink(options.socketPath).catch(() => undefined);
      }
      await app.close();
    },
  };
}
