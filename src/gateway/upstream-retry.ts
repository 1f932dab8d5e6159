// When the gateway retries an upstream call itself, and how long it waits first. Only answers that
// mean "try again" are retried (429, 408, 409, 500, 502, 503, 504, 529, and connections that failed
// before an answer), only before a byte of the answer has gone to the sandbox (the request body is
// held whole, so a retry resends it exactly), and at most `maxRetries` times. The wait is the
// upstream's retry-after (or retry-after-ms) when it gives one and it is within `maxWaitMs`, else
// exponential backoff with jitter; a retry-after beyond `maxWaitMs` is passed back, not waited for.

export interface RetrySettings {
  /** Retries after the first attempt. Default 2. */
  maxRetries: number;
  /** First backoff in ms (doubled each retry, with up to 25% jitter). Default 500. */
  baseDelayMs: number;
  /** Longest wait before one retry, whatever retry-after says. Default 8000. */
  maxWaitMs: number;
}

export const DEFAULT_RETRY: RetrySettings = { maxRetries: 2, baseDelayMs: 500, maxWaitMs: 8000 };

const RETRYABLE_STATUSES = new Set([408, 409, 429, 500, 502, 503, 504, 529]);

/** True for an upstream status worth retrying. */
export function isRetryableStatus(status: number): boolean {
  return RETRYABLE_STATUSES.has(status);
}

/** Milliseconds the upstream asked to wait (retry-after-ms, or retry-after in seconds or as a date), if it did. */
export function requestedWaitMs(headers: Record<string, string | string[] | undefined>, now = Date.now()): number | undefined {
  const first = (value: string | string[] | undefined): string | undefined => (Array.isArray(value) ? value[0] : value);
  const ms = Number(first(headers['retry-after-ms']));
  if (Number.isFinite(ms) && ms >= 0) return ms;
  const after = first(headers['retry-after'])?.trim();
  if (after === undefined || after === '') return undefined;
  if (/^\d+(\.\d+)?$/.test(after)) return Number(after) * 1000;
  const date = Date.parse(after);
  return Number.isNaN(date) ? undefined : Math.max(0, date - now);
}

/**
 * The wait before retry number `retry` (1-based), or undefined when the call must not be retried:
 * retries used up, or the upstream asked for a wait over the cap.
 */
export function retryDelayMs(retry: number, requested: number | undefined, settings: RetrySettings, random: () => number = Math.random): number | undefined {
  if (retry > settings.maxRetries) return undefined;
  if (requested !== undefined) return requested <= settings.maxWaitMs ? requested : undefined;
  const backoff = Math.min(settings.maxWaitMs, settings.baseDelayMs * 2 ** (retry - 1));
  return Math.round(backoff * (1 - 0.25 * random()));
}

/** Resolves after `ms`, or at once (false) when `signal` aborts. */
export function waitUnlessAborted(ms: number, signal: AbortSignal): Promise<boolean> {
  if (signal.aborted) return Promise.resolve(false);
  return new Promise((resolve) => {
    const timer = setTimeout(() => {
      signal.removeEventListener('abort', onAbort);
      resolve(true);
    }, ms);
    const onAbort = (): void => {
      clearTimeout(timer);
      resolve(false);
    };
    signal.addEventListener('abort', onAbort, { once: true });
  });
}
