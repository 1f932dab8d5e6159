// The scripted model server: an Anthropic Messages API look-alike that answers from a scenario.
// The Claude Code CLI runs against it unchanged (ANTHROPIC_BASE_URL), so agents and Hangar's own
// tests run offline and deterministically. Every request is recorded; /_scripted/ drives it remotely.
import type { Server } from 'node:http';
import Fastify, { LogController, type FastifyBaseLogger, type FastifyReply } from 'fastify';
import type pino from 'pino';
import { registerControlRoutes } from './control-routes.js';
import { HangarError, isHangarError } from '../errors/errors.js';
import {
  classifyRequest,
  countTokensRequestSchema,
  describeRequestError,
  estimateInputTokens,
  matchSubject,
  messagesRequestSchema,
} from './messages-request.js';
import { createRequestRecorder, type RecordedOutcome, type RecordedRequest } from './recorded-requests.js';
import { createReplyCursor, type ReplyCursor, type ReplyUse } from './reply-cursor.js';
import { parseScenario, type Scenario, type ScenarioReply } from './scenario.js';
import { auxiliaryDefault, buildMessage } from './scripted-message.js';
import { closeSocket, listenOnSocket } from './socket-listener.js';
import { errorBody, errorTypeForStatus, newId } from './sse.js';
import { sleep, streamMessage } from './stream-response.js';

export type { RecordedOutcome, RecordedRequest, RecordedRequestKind } from './recorded-requests.js';

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

function urlHost(host: string): string {
  if (host === '0.0.0.0' || host === '::') return '127.0.0.1';
  return host.includes(':') ? `[${host}]` : host;
}

export async function startScriptedModelServer(options: ScriptedModelServerOptions): Promise<ScriptedModelServer> {
  let scenario = parseScenario(options.scenario);
  let cursor: ReplyCursor = createReplyCursor(scenario);
  const recorder = createRequestRecorder(options.maxRecordedRequests ?? 1000);
  const { requests, record } = recorder;
  /** Aborted on close(), so delayed or slow responses stop at once. */
  const closing = new AbortController();

  const common = {
    bodyLimit: 64 * 1024 * 1024,
    forceCloseConnections: true,
    // The server logs one line per request itself (see log()).
    logController: new LogController({ disableRequestLogging: true }),
  };
  const app = options.logger ? Fastify({ ...common, loggerInstance: options.logger as FastifyBaseLogger }) : Fastify({ ...common, logger: false });

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

    const message = buildMessage(body, scripted.content ?? [], scripted, scenario.model);
    if (streamed) {
      await streamMessage(request, reply, message, { chunkDelayMs: scripted.chunkDelayMs ?? 0, cutAfter, closing: closing.signal });
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

  registerControlRoutes(app, {
    requests,
    clearRequests: () => recorder.clear(),
    scenario: () => scenario,
    replyUses: () => cursor.uses(),
    reset: () => {
      cursor = createReplyCursor(scenario);
    },
    setScenario,
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
    recorder.clear();
  }

  await app.listen({ host: options.host ?? '127.0.0.1', port: options.port ?? 0 });
  const address = app.server.address();
  if (address === null || typeof address === 'string') {
    await app.close();
    throw new HangarError('INTERNAL', 'scripted model server has no TCP address');
  }

  let socketServer: Server | undefined;
  if (options.socketPath !== undefined) {
    try {
      socketServer = await listenOnSocket(app, options.socketPath);
    } catch (error) {
      await app.close();
      throw error;
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
      if (socketServer !== undefined && options.socketPath !== undefined) await closeSocket(socketServer, options.socketPath);
      await app.close();
    },
  };
}
