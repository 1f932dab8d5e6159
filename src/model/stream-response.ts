// Sends a scripted Message as an SSE stream, one event at a time with a delay between them, and
// cuts the connection after a given number of events when the scenario asks for it. Stops at once
// when the client goes away or the server closes.
import type { ServerResponse } from 'node:http';
import type { FastifyReply, FastifyRequest } from 'fastify';
import { formatSseEvent, messageEvents, newId, type AnthropicMessage } from './sse.js';

/** Resolves after `ms`, or at once when the signal aborts. */
export function sleep(ms: number, signal: AbortSignal): Promise<void> {
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

/**
 * Streams a message as SSE, `chunkDelayMs` between events; with `cutAfter`, destroys the
 * connection after that many events. `closing` aborts when the server closes.
 */
export async function streamMessage(
  request: FastifyRequest,
  reply: FastifyReply,
  message: AnthropicMessage,
  options: { chunkDelayMs: number; cutAfter: number | undefined; closing: AbortSignal },
): Promise<void> {
  const { chunkDelayMs, cutAfter, closing } = options;
  reply.hijack();
  const res = reply.raw;
  const gone = new AbortController();
  const abort = (): void => gone.abort();
  res.on('close', abort);
  closing.addEventListener('abort', abort, { once: true });
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
    closing.removeEventListener('abort', abort);
  }
}
