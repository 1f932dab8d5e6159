// Reads one request body into memory within a byte cap, a byte budget and a deadline. A body with a
// Content-Length is received into one buffer of that size (reserved before the first byte is read);
// a chunked body reserves each chunk as it arrives. A client that stalls is cut at the deadline.
import type http from 'node:http';
import type { AdmissionTicket, LimitRefusal } from './request-limits.js';

export type BodyReadResult =
  | { ok: true; body: Buffer }
  | { ok: false; reason: 'too_large'; message: string }
  | { ok: false; reason: 'body_timeout'; message: string }
  | { ok: false; reason: 'aborted'; message: string }
  | { ok: false; reason: LimitRefusal['reason']; message: string };

export interface ReadBodyOptions {
  maxBytes: number;
  /** The announced Content-Length, already checked against maxBytes and reserved on the ticket. */
  declaredLength: number | undefined;
  ticket: AdmissionTicket;
  /** Milliseconds the whole body may take to arrive. */
  timeoutMs: number;
}

/** The Content-Length header as a number; undefined when absent, NaN when malformed. */
export function declaredContentLength(headers: http.IncomingHttpHeaders): number | undefined {
  const raw = headers['content-length'];
  if (raw === undefined) return undefined;
  return /^\d{1,15}$/.test(raw) ? Number(raw) : Number.NaN;
}

export function readRequestBody(incoming: http.IncomingMessage, options: ReadBodyOptions): Promise<BodyReadResult> {
  const { maxBytes, declaredLength, ticket } = options;
  return new Promise<BodyReadResult>((resolve) => {
    const fixed = declaredLength === undefined ? undefined : Buffer.allocUnsafe(declaredLength);
    const chunks: Buffer[] = [];
    let received = 0;
    let settled = false;

    const finish = (result: BodyReadResult): void => {
      if (settled) return;
      settled = true;
      clearTimeout(timer);
      incoming.off('data', onData);
      incoming.off('end', onEnd);
      incoming.off('error', onAborted);
      incoming.off('close', onClose);
      // Nothing more is read from a refused body; the caller answers and closes the connection.
      if (!result.ok) incoming.pause();
      resolve(result);
    };
    const onData = (chunk: Buffer): void => {
      if (received + chunk.length > (fixed?.length ?? maxBytes)) {
        finish({ ok: false, reason: 'too_large', message: `request body exceeds ${fixed?.length ?? maxBytes} bytes` });
        return;
      }
      if (fixed !== undefined) {
        chunk.copy(fixed, received);
      } else {
        const refusal = ticket.reserve(chunk.length);
        if (refusal !== undefined) {
          finish({ ok: false, reason: refusal.reason, message: refusal.message });
          return;
        }
        chunks.push(chunk);
      }
      received += chunk.length;
    };
    const onEnd = (): void => {
      if (fixed !== undefined && received !== fixed.length) {
        finish({ ok: false, reason: 'aborted', message: 'request body shorter than its Content-Length' });
        return;
      }
      finish({ ok: true, body: fixed ?? Buffer.concat(chunks, received) });
    };
    const onAborted = (): void => finish({ ok: false, reason: 'aborted', message: 'client aborted the request body' });
    const onClose = (): void => {
      if (!incoming.complete) onAborted();
    };
    const timer = setTimeout(() => {
      finish({ ok: false, reason: 'body_timeout', message: `request body not received within ${options.timeoutMs} ms (${received} bytes arrived)` });
    }, options.timeoutMs);
    incoming.on('data', onData);
    incoming.on('end', onEnd);
    incoming.on('error', onAborted);
    incoming.on('close', onClose);
  });
}
