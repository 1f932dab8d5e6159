// The errors the local provider throws: the host cannot run sandboxes, an operation on one failed,
// or a request is invalid.
import { HangarError } from '../../../errors/errors.js';

export function unavailable(message: string, cause?: unknown): HangarError {
  return new HangarError('SANDBOX_UNAVAILABLE', message, cause === undefined ? undefined : { cause });
}

export function failed(message: string, cause?: unknown, details?: unknown): HangarError {
  const options: { cause?: unknown; details?: unknown } = {};
  if (cause !== undefined) options.cause = cause;
  if (details !== undefined) options.details = details;
  return new HangarError('SANDBOX_FAILED', message, options);
}

export function invalid(message: string): HangarError {
  return new HangarError('VALIDATION_FAILED', message);
}

/** The stderr of a failed command (execFile's and the host shell's errors carry one), trimmed. */
export function stderrOf(error: unknown): string {
  return String((error as { stderr?: unknown }).stderr ?? '').trim();
}
