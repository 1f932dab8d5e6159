// When the client retries a refused request, and how long it waits first. Only a 429 whose code
// says the server made nothing (RATE_LIMITED: over the tenant's request rate; CAPACITY_EXCEEDED: no
// sandbox free) is retried, so a retried POST never creates anything twice. The wait is the
// answer's Retry-After (1 s when it has none). The client gives up, with the 429 itself, once it has
// made `maxAttempts` attempts, when Retry-After asks for more than `maxWaitMs`, or when the wait
// would take the time spent waiting past `maxTotalWaitMs`.

/** What the client is about to do after a refusal it retries. */
export interface RetryNotice {
  /** The error code of the refusal: RATE_LIMITED or CAPACITY_EXCEEDED. */
  code: string;
  /** The attempt that was refused (1-based). */
  attempt: number;
  maxAttempts: number;
  /** The wait before the next attempt. */
  waitMs: number;
}

export interface RetryOptions {
  /** Attempts in all, the first included; 1 turns retrying off. Default 4. */
  maxAttempts?: number;
  /** Longest wait before one retry; a Retry-After asking for more gives up at once. Default 30000 ms. */
  maxWaitMs?: number;
  /** Longest time spent waiting over all the retries of one request. Default 60000 ms. */
  maxTotalWaitMs?: number;
  /** Waits `ms` (default: a timer); tests pass their own. */
  sleep?: (ms: number) => Promise<void>;
  /** Called before each wait, e.g. to tell a user why nothing happens yet. */
  onRetry?: (notice: RetryNotice) => void;
}

export type RetrySettings = Required<Omit<RetryOptions, 'onRetry'>> & Pick<RetryOptions, 'onRetry'>;

export const DEFAULT_RETRY: Omit<RetrySettings, 'sleep' | 'onRetry'> = { maxAttempts: 4, maxWaitMs: 30_000, maxTotalWaitMs: 60_000 };

/** The wait when a retryable 429 has no usable Retry-After. */
const FALLBACK_WAIT_MS = 1000;

/** 429 codes that mean the server made nothing, so the same request may be sent again. */
const RETRYABLE_CODES = new Set(['RATE_LIMITED', 'CAPACITY_EXCEEDED']);

const timerSleep = (ms: number): Promise<void> => new Promise((resolve) => setTimeout(resolve, ms));

/** The settings of `options` over the defaults; `false` turns retrying off (one attempt). */
export function retrySettings(options: RetryOptions | false | undefined): RetrySettings {
  if (options === false) return { ...DEFAULT_RETRY, maxAttempts: 1, sleep: timerSleep };
  return {
    maxAttempts: Math.max(1, Math.floor(options?.maxAttempts ?? DEFAULT_RETRY.maxAttempts)),
    maxWaitMs: options?.maxWaitMs ?? DEFAULT_RETRY.maxWaitMs,
    maxTotalWaitMs: options?.maxTotalWaitMs ?? DEFAULT_RETRY.maxTotalWaitMs,
    sleep: options?.sleep ?? timerSleep,
    ...(options?.onRetry !== undefined ? { onRetry: options.onRetry } : {}),
  };
}

/** Milliseconds a Retry-After header asks for (seconds, or an HTTP date), if it is readable. */
export function retryAfterMs(header: string | null, now = Date.now()): number | undefined {
  const value = header?.trim();
  if (value === undefined || value === '') return undefined;
  if (/^\d+(\.\d+)?$/.test(value)) return Number(value) * 1000;
  const date = Date.parse(value);
  return Number.isNaN(date) ? undefined : Math.max(0, date - now);
}

/**
 * The wait before the next attempt after attempt number `attempt` (1-based) was refused with
 * `status` and `code`, `waitedMs` having been spent waiting already; undefined to give up.
 */
export function nextRetryWaitMs(
  refusal: { status: number; code: string; retryAfterMs: number | undefined },
  attempt: number,
  waitedMs: number,
  settings: Pick<RetrySettings, 'maxAttempts' | 'maxWaitMs' | 'maxTotalWaitMs'>,
): number | undefined {
  if (refusal.status !== 429 || !RETRYABLE_CODES.has(refusal.code)) return undefined;
  if (attempt >= settings.maxAttempts) return undefined;
  const wait = refusal.retryAfterMs ?? FALLBACK_WAIT_MS;
  if (wait > settings.maxWaitMs || waitedMs + wait > settings.maxTotalWaitMs) return undefined;
  return wait;
}
