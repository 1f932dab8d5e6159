// Server-sent events on a hijacked Fastify reply: headers, a keep-alive comment every 15 s, and
// writes that wait for the socket to drain.
import type { FastifyReply } from 'fastify';

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
