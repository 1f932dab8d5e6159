// The error the client throws for a non-2xx answer: its status, the { error: { code, message } }
// of its body, its Retry-After, and how many attempts the client made before giving up.
import { retryAfterMs } from './retry-policy.js';

export class HangarApiError extends Error {
  /** Attempts the client made before it gave up (more than 1 after retried 429s). */
  readonly attempts: number;
  /** Milliseconds the client waited between those attempts. */
  readonly waitedMs: number;
  /** The answer's Retry-After, in seconds, when it had one. */
  readonly retryAfterSec: number | undefined;

  constructor(
    readonly status: number,
    readonly code: string,
    message: string,
    retry: { attempts?: number; waitedMs?: number; retryAfterSec?: number | undefined } = {},
  ) {
    super(message);
    this.name = 'HangarApiError';
    this.attempts = retry.attempts ?? 1;
    this.waitedMs = retry.waitedMs ?? 0;
    this.retryAfterSec = retry.retryAfterSec;
  }
}

/** The error of a non-2xx answer, read from its body and headers. */
export async function apiErrorOf(response: Response, retry: { attempts?: number; waitedMs?: number } = {}): Promise<HangarApiError> {
  const text = await response.text();
  const after = retryAfterMs(response.headers.get('retry-after'));
  const extra = { ...retry, retryAfterSec: after === undefined ? undefined : after / 1000 };
  try {
    const body = JSON.parse(text) as { error?: { code?: string; message?: string } };
    return new HangarApiError(response.status, body.error?.code ?? 'UNKNOWN', body.error?.message ?? text, extra);
  } catch {
    return new HangarApiError(response.status, 'UNKNOWN', text || response.statusText, extra);
  }
}
