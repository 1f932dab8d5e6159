// One registry of error codes, their HTTP statuses, and the error class every layer throws.
// The wire format is { error: { code, message, details? } }.

export const ERROR_HTTP_STATUS = {
  BAD_REQUEST: 400,
  INVALID_JSON: 400,
  VALIDATION_FAILED: 400,
  PAYLOAD_TOO_LARGE: 413,
  UNSUPPORTED_MEDIA_TYPE: 415,
  URI_TOO_LONG: 414,
  HEADERS_TOO_LARGE: 431,
  REQUEST_TIMEOUT: 408,
  UNAUTHORIZED: 401,
  FORBIDDEN: 403,
  API_KEY_NOT_FOUND: 404,
  TENANT_NOT_FOUND: 404,
  POLICY_VIOLATION: 403,
  HOST_NOT_ALLOWED: 421,
  NOT_FOUND: 404,
  METHOD_NOT_ALLOWED: 405,
  TASK_NOT_FOUND: 404,
  SESSION_NOT_FOUND: 404,
  SANDBOX_NOT_FOUND: 404,
  CHECKPOINT_NOT_FOUND: 404,
  SCHEDULE_NOT_FOUND: 404,
  SECRET_NOT_FOUND: 404,
  SESSION_CLOSED: 409,
  BUDGET_EXCEEDED: 402,
  TASK_NOT_RUNNING: 409,
  NO_CHECKPOINT: 409,
  CONFLICT: 409,
  RATE_LIMITED: 429,
  CAPACITY_EXCEEDED: 429,
  SANDBOX_UNAVAILABLE: 503,
  SANDBOX_FAILED: 500,
  CHECKPOINT_FAILED: 500,
  CHECKPOINT_CORRUPT: 500,
  MODEL_UNAVAILABLE: 502,
  AGENT_FAILED: 500,
  CONFIG_INVALID: 500,
  DATA_DIR_IN_USE: 409,
  NOT_READY: 503,
  SCENARIO_INVALID: 400,
  INTERNAL: 500,
} as const satisfies Record<string, number>;

export type ErrorCode = keyof typeof ERROR_HTTP_STATUS;

/**
 * How a task or a session turn ended short of success, where that is no HTTP error: the agent hit its
 * turn limit, a client cancelled it, the server stopped it. Recorded as its error.code.
 */
export const RUN_OUTCOME_CODES = ['MAX_TURNS', 'CANCELLED', 'INTERRUPTED'] as const;

/** A task's or a turn's error.code: one of the run outcomes, or the code of the error that ended it. */
export type OutcomeCode = (typeof RUN_OUTCOME_CODES)[number] | ErrorCode;

export interface ErrorBody {
  error: { code: ErrorCode; message: string; details?: unknown };
}

export class HangarError extends Error {
  readonly code: ErrorCode;
  readonly details: unknown;
  /** Seconds after which the request may succeed (sent as Retry-After), when the error is temporary. */
  readonly retryAfterSec: number | undefined;

  constructor(code: ErrorCode, message: string, options?: { details?: unknown; cause?: unknown; retryAfterSec?: number }) {
    super(message, options?.cause === undefined ? undefined : { cause: options.cause });
    this.name = 'HangarError';
    this.code = code;
    this.details = options?.details;
    this.retryAfterSec = options?.retryAfterSec;
  }

  get httpStatus(): number {
    return ERROR_HTTP_STATUS[this.code];
  }

  toBody(): ErrorBody {
    const body: ErrorBody = { error: { code: this.code, message: this.message } };
    if (this.details !== undefined) body.error.details = this.details;
    return body;
  }
}

export function isHangarError(value: unknown): value is HangarError {
  return value instanceof HangarError;
}
