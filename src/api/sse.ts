// Server-sent events on a hijacked Fastify reply: headers, a keep-alive comment every 15 s, and
// writes that wait for the socket to drain; and the replay-then-follow of a durable event stream
// (a task's or a session's) from Last-Event-ID or ?after=N.
import type { FastifyReply, FastifyRequest } from 'fastify';
import { z } from 'zod';
import type { EventHub } from '../sessions/event-hub.js';

const KEEP_ALIVE_MS = 15_000;

export interface EventStream {
  /** Writes one event; resolves once the socket can take more. Does nothing after the client left. */
  send(id: number, event: string, data: unknown): Promise<void>;
  /** True once the client disconnected. */
  readonly closed: boolean;
  /** Aborts when the client disconnects. */
  readonly signal: AbortSignal;
  end(): void;
}

export function openEventStream(reply: FastifyReply): EventStream {
  reply.hijack();
  const raw = reply.raw;
  raw.writeHead(200, { 'content-type': 'text/event-stream', 'cache-control': 'no-cache', connection: 'keep-alive', 'x-accel-buffering': 'no' });
  // Sent now: a stream with nothing to replay yet (a client reconnecting with the last Last-Event-ID) is open at once.
  raw.flushHeaders();
  const abort = new AbortController();
  raw.on('close', () => abort.abort());
  const heartbeat = setInterval(() => {
    if (!raw.writableEnded) raw.write(': keep-alive\n\n');
  }, KEEP_ALIVE_MS);
  const closed = (): boolean => raw.writableEnded || raw.destroyed;
  return {
    async send(id, event, data) {
      if (closed()) return;
      if (!raw.write(`id: ${id}\nevent: ${event}\ndata: ${JSON.stringify(data)}\n\n`)) {
        await new Promise<void>((resolve) => {
          // Whichever comes first removes the other listener, so none pile up on a long stream.
          const done = (): void => {
            raw.off('drain', done);
            raw.off('close', done);
            resolve();
          };
          raw.once('drain', done);
          raw.once('close', done);
        });
      }
    },
    get closed() {
      return closed();
    },
    signal: abort.signal,
    end() {
      clearInterval(heartbeat);
      if (!raw.writableEnded) raw.end();
    },
  };
}

/** The query string of a durable event stream's route. */
export const eventReplayQuery = z
  .object({
    after: z.coerce.number().int().min(0).optional().describe('Replay events after this sequence number (or send Last-Event-ID)'),
    follow: z.enum(['true', 'false']).default('true').describe('false: replay what is stored and end'),
  })
  .strict();

export interface StoredEventsOptions {
  events: EventHub;
  /** The task or session id the events are stored under. */
  streamId: string;
  /** True once the stream will get no more events (checked when it has none to send). */
  finished(): Promise<boolean>;
  /** An event after which the stream ends (a task's task_finished). */
  isLast?(type: string): boolean;
  /** Whose stream it is, as a stream that ends with an error is logged. */
  kind: 'task' | 'session';
}

/**
 * Sends a durable stream as server-sent events, each named by its type with its seq as id and
 * { seq, type, createdAt, data } as data: the events after Last-Event-ID (or ?after=N), then live ones
 * until `finished` (at once with follow=false), the last event, or the client leaves.
 */
export async function sendStoredEvents(
  request: Pick<FastifyRequest, 'headers' | 'log'> & { query: z.output<typeof eventReplayQuery> },
  reply: FastifyReply,
  options: StoredEventsOptions,
): Promise<void> {
  const lastEventId = request.headers['last-event-id'];
  const fromHeader = typeof lastEventId === 'string' && /^\d+$/.test(lastEventId) ? Number(lastEventId) : undefined;
  const after = fromHeader ?? request.query.after ?? 0;
  const follow = request.query.follow === 'true';
  const stream = openEventStream(reply);
  try {
    for await (const event of options.events.follow(options.streamId, {
      after,
      signal: stream.signal,
      isFinished: async () => !follow || (await options.finished()),
    })) {
      if (stream.closed) break;
      await stream.send(event.seq, event.type, { seq: event.seq, type: event.type, createdAt: event.createdAt, data: event.data });
      if (options.isLast?.(event.type) === true) break;
    }
  } catch (error) {
    request.log.warn({ err: error, [`${options.kind}Id`]: options.streamId }, `${options.kind} event stream ended with an error`);
  } finally {
    stream.end();
  }
}
