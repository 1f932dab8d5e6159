// Sends one checked request upstream and streams the answer back: the real key put in, the
// forwarded headers only, retries of "try again" answers and failed connections before any byte
// has gone back (upstream-retry.ts), errors explained naming the real upstream (upstream-error.ts),
// and the tokens of every Messages call metered as they stream.
import type http from 'node:http';
import type { Logger } from 'pino';
import { request, type Agent } from 'undici';
import { anthropicError } from './refusals.js';
import { explainUpstreamError, readUpstreamErrorBody } from './upstream-error.js';
import type { UpstreamKeySource } from './upstream-key.js';
import { isRetryableStatus, requestedWaitMs, retryDelayMs, waitUnlessAborted, type RetrySettings } from './upstream-retry.js';
import { StreamUsageMeter, usageFromMessageJson, type MeteredCall } from './usage-meter.js';

/**
 * Request headers forwarded upstream; credentials, hop-by-hop and client fingerprint headers are never
 * copied. anthropic-beta is forwarded only after its values pass the allowlist.
 */
const FORWARDED_REQUEST_HEADERS = new Set(['anthropic-version', 'content-type', 'accept', 'user-agent', 'x-app']);
const DROPPED_RESPONSE_HEADERS = new Set(['connection', 'keep-alive', 'transfer-encoding', 'content-length', 'content-encoding']);
/**
 * Sent with a failure the gateway has already retried: Anthropic's SDKs (and so the CLI) do not
 * retry an answer carrying it, so the two layers' retries do not multiply (3 x 3 attempts).
 */
const NO_MORE_RETRIES = { 'x-should-retry': 'false' };

export interface ForwardedCall {
  incoming: http.IncomingMessage;
  response: http.ServerResponse;
  sessionId: string;
  pathname: string;
  search: string;
  beta: string | undefined;
  body: Buffer;
  model: string;
  streamed: boolean;
  /** Called once the body has gone upstream for the last time: its bytes leave the budget. */
  releaseBody: () => void;
}

export interface ForwardContext {
  upstream: URL;
  label: string;
  dispatcher: Agent;
  key: UpstreamKeySource;
  retry: RetrySettings;
  logger: Logger;
  /** A Messages call went upstream (each attempt, retries included), and whether it failed. */
  onAttempt(sessionId: string, failed: boolean): void;
  onMetered(sessionId: string, call: MeteredCall): void;
}

/** Waits until the response can take more data, or has closed. */
function drained(response: http.ServerResponse): Promise<void> {
  return new Promise<void>((resolve) => {
    const done = (): void => {
      response.off('drain', done);
      response.off('close', done);
      resolve();
    };
    response.once('drain', done);
    response.once('close', done);
  });
}

function answerHeaders(headers: Record<string, string | string[] | undefined>): Record<string, string | string[]> {
  const out: Record<string, string | string[]> = {};
  for (const [name, value] of Object.entries(headers)) if (value !== undefined && !DROPPED_RESPONSE_HEADERS.has(name)) out[name] = value;
  return out;
}

type UpstreamAnswer = Awaited<ReturnType<typeof request>>;

export async function forwardUpstream(context: ForwardContext, call: ForwardedCall): Promise<void> {
  const { response, sessionId, streamed, logger } = { ...call, logger: context.logger };
  const basePath = context.upstream.pathname.replace(/\/$/, '');
  const headers: Record<string, string> = { 'accept-encoding': 'identity' };
  for (const [name, value] of Object.entries(call.incoming.headers)) {
    if (FORWARDED_REQUEST_HEADERS.has(name) && typeof value === 'string') headers[name] = value;
  }
  if (call.beta !== undefined) headers['anthropic-beta'] = call.beta;
  const isMessagesCall = call.pathname === '/v1/messages';
  const abort = new AbortController();
  response.on('close', () => {
    if (!response.writableFinished) abort.abort();
  });

  let answer: UpstreamAnswer | undefined;
  /** Set once the gateway has used its retries: the agent is told not to add its own on top. */
  let retriedOut = false;
  try {
    for (let retry = 0; ; retry += 1) {
      const key = context.key.current();
      let failure: { status?: number; wait?: number; error?: Error };
      try {
        answer = await request(new URL(basePath + call.pathname + call.search, context.upstream.origin), {
          method: 'POST',
          headers: key !== undefined ? { ...headers, 'x-api-key': key } : headers,
          body: call.body,
          dispatcher: context.dispatcher,
          signal: abort.signal,
        });
        if (isMessagesCall) context.onAttempt(sessionId, answer.statusCode >= 400);
        if (!isRetryableStatus(answer.statusCode)) break;
        failure = { status: answer.statusCode, wait: requestedWaitMs(answer.headers) };
      } catch (error) {
        if (isMessagesCall) context.onAttempt(sessionId, true);
        if (abort.signal.aborted) return;
        failure = { error: error as Error };
      }
      const delay = retryDelayMs(retry + 1, failure.wait, context.retry);
      if (delay === undefined) {
        retriedOut = context.retry.maxRetries > 0 && retry >= context.retry.maxRetries;
        if (failure.error !== undefined) throw failure.error;
        break;
      }
      logger.info(
        { sessionId, upstream: context.label, status: failure.status, err: failure.error?.message, retry: retry + 1, delayMs: delay },
        'gateway: retrying the model upstream',
      );
      // The answer being retried is dropped unread.
      answer?.body.on('error', () => undefined).destroy();
      answer = undefined;
      if (!(await waitUnlessAborted(delay, abort.signal))) return;
    }
  } catch (error) {
    logger.warn({ sessionId, err: (error as Error).message }, 'gateway: upstream unreachable');
    anthropicError(
      response,
      502,
      'api_error',
      `Hangar gateway could not reach the model upstream: ${(error as Error).message}`,
      false,
      retriedOut ? NO_MORE_RETRIES : {},
    );
    return;
  } finally {
    call.releaseBody();
  }
  if (answer === undefined) return;
  if (answer.statusCode >= 400) {
    await answerUpstreamError(context, response, answer, sessionId, retriedOut);
    return;
  }
  response.writeHead(answer.statusCode, answerHeaders(answer.headers));
  response.flushHeaders();

  const meter = isMessagesCall && streamed ? new StreamUsageMeter(call.model) : undefined;
  const jsonChunks: Buffer[] = [];
  try {
    for await (const chunk of answer.body) {
      const buffer = chunk as Buffer;
      meter?.push(buffer);
      if (isMessagesCall && !streamed) jsonChunks.push(buffer);
      if (!response.write(buffer)) await drained(response);
      if (response.destroyed) break;
    }
    if (response.destroyed) answer.body.destroy();
    else response.end();
  } catch (error) {
    logger.warn({ sessionId, err: (error as Error).message }, 'gateway: upstream stream ended abnormally');
    response.destroy();
  } finally {
    const metered =
      meter !== undefined ? meter.result() : jsonChunks.length > 0 ? usageFromMessageJson(Buffer.concat(jsonChunks).toString('utf8'), call.model) : undefined;
    if (metered !== undefined) context.onMetered(sessionId, metered);
  }
}

/** Answers an upstream error with a message naming the real upstream and what it said (upstream-error.ts). */
async function answerUpstreamError(
  context: ForwardContext,
  response: http.ServerResponse,
  answer: UpstreamAnswer,
  sessionId: string,
  retriedOut: boolean,
): Promise<void> {
  const said = await readUpstreamErrorBody(answer.body).catch((error: unknown) => {
    context.logger.warn({ sessionId, err: (error as Error).message }, 'gateway: upstream error answer ended abnormally');
    return '';
  });
  answer.body.destroy();
  const body = explainUpstreamError(context.label, answer.statusCode, said);
  context.logger.warn({ sessionId, upstream: context.label, status: answer.statusCode }, 'gateway: the model upstream answered an error');
  if (response.destroyed) return;
  response.writeHead(answer.statusCode, {
    ...answerHeaders(answer.headers),
    ...(retriedOut ? NO_MORE_RETRIES : {}),
    'content-type': 'application/json',
    'content-length': Buffer.byteLength(body),
  });
  response.end(body);
}
