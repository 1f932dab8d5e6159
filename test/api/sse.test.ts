// The SSE writer under backpressure: a slow client makes writes wait for 'drain' again and again,
// and no listener may be left behind by each wait (a long replay would otherwise leak them).
import http from 'node:http';
import Fastify from 'fastify';
import { afterAll, describe, expect, it } from 'vitest';
import { openEventStream } from '../../src/api/sse.js';

describe('openEventStream', () => {
  const app = Fastify();
  afterAll(() => app.close());

  it('waits for drain without piling up listeners, and delivers every event in order', async () => {
    const warnings: Error[] = [];
    const onWarning = (warning: Error): void => {
      warnings.push(warning);
    };
    process.on('warning', onWarning);
    const events = 400;
    const payload = 'x'.repeat(64 * 1024);
    let closeListeners = 0;
    let drainListeners = 0;
    let waits = 0;
    app.get('/events', async (_request, reply) => {
      const stream = openEventStream(reply);
      const raw = reply.raw;
      raw.prependListener('newListener', (event: string | symbol) => {
        if (event === 'drain') waits += 1;
      });
      for (let id = 1; id <= events; id += 1) {
        await stream.send(id, 'message', { id, payload });
        closeListeners = Math.max(closeListeners, raw.listenerCount('close'));
        drainListeners = Math.max(drainListeners, raw.listenerCount('drain'));
      }
      stream.end();
    });
    const address = await app.listen({ host: '127.0.0.1', port: 0 });

    const ids: number[] = await new Promise((resolve, reject) => {
      http.get(`${address}/events`, (response) => {
        const seen: number[] = [];
        let buffer = '';
        response.setEncoding('utf8');
        // A slow reader: pauses after each chunk, so the server's writes keep hitting backpressure.
        response.on('data', (chunk: string) => {
          buffer += chunk;
          for (let end = buffer.indexOf('\n\n'); end !== -1; end = buffer.indexOf('\n\n')) {
            const idLine = buffer
              .slice(0, end)
              .split('\n')
              .find((line) => line.startsWith('id: '));
            if (idLine !== undefined) seen.push(Number(idLine.slice(4)));
            buffer = buffer.slice(end + 2);
          }
          response.pause();
          setTimeout(() => response.resume(), 1);
        });
        response.on('end', () => resolve(seen));
        response.on('error', reject);
      });
    });
    process.off('warning', onWarning);

    expect(ids).toEqual(Array.from({ length: events }, (_, index) => index + 1));
    expect(waits).toBeGreaterThan(10);
    // Fastify's and the stream's own listeners only; before the fix each wait left one behind.
    expect(closeListeners).toBeLessThan(5);
    expect(drainListeners).toBeLessThan(3);
    expect(warnings.filter((warning) => warning.name === 'MaxListenersExceededWarning')).toEqual([]);
  });
});
