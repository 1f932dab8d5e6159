// Admission of model calls into the gateway: at most N requests at once per session token, and a
// budget of request-body bytes held in memory per token and for the whole gateway. A request takes a
// slot before its body is read and reserves body bytes before they are buffered (the announced
// Content-Length up front, chunked bodies as they arrive), so memory a sandbox can make the host
// hold is bounded by its budget, not by how many connections it opens. No I/O.

export interface RequestLimits {
  /** Requests one token may have open at once (reading, waiting upstream or streaming back). */
  maxConcurrentPerToken: number;
  /** Request-body bytes one token may have buffered at once. */
  maxInFlightBytesPerToken: number;
  /** Request-body bytes all tokens together may have buffered at once. */
  maxInFlightBytes: number;
}

export type LimitRefusalReason = 'concurrency' | 'in_flight_bytes' | 'gateway_bytes';

export interface LimitRefusal {
  reason: LimitRefusalReason;
  message: string;
}

export interface AdmissionTicket {
  /** Reserves more body bytes; a refusal leaves what was already reserved in place. */
  reserve(bytes: number): LimitRefusal | undefined;
  /** Bytes this ticket holds. */
  readonly reservedBytes: number;
  /** Returns the reserved bytes (the body has been handed upstream); the slot stays taken. */
  releaseBytes(): void;
  /** Returns the slot and any bytes; safe to call more than once. */
  release(): void;
}

export interface InFlightLimiter {
  acquire(key: string): AdmissionTicket | LimitRefusal;
  /** Open requests and buffered bytes, per key and in total. */
  stats(): { requests: number; bytes: number; byKey: Record<string, { requests: number; bytes: number }> };
}

interface KeyState {
  requests: number;
  bytes: number;
}

export function createInFlightLimiter(limits: RequestLimits): InFlightLimiter {
  const states = new Map<string, KeyState>();
  let totalBytes = 0;
  let totalRequests = 0;

  const stateOf = (key: string): KeyState => {
    let state = states.get(key);
    if (state === undefined) {
      state = { requests: 0, bytes: 0 };
      states.set(key, state);
    }
    return state;
  };

  return {
    acquire(key) {
      const state = stateOf(key);
      if (state.requests >= limits.maxConcurrentPerToken) {
        return { reason: 'concurrency', message: `too many concurrent requests for this session (limit ${limits.maxConcurrentPerToken})` };
      }
      state.requests += 1;
      totalRequests += 1;
      let reserved = 0;
      let released = false;
      const releaseBytes = (): void => {
        state.bytes -= reserved;
        totalBytes -= reserved;
        reserved = 0;
      };
      return {
        get reservedBytes() {
          return reserved;
        },
        reserve(bytes) {
          if (released) return { reason: 'concurrency', message: 'request already finished' };
          if (state.bytes + bytes > limits.maxInFlightBytesPerToken) {
            return { reason: 'in_flight_bytes', message: `request bodies in flight for this session would exceed ${limits.maxInFlightBytesPerToken} bytes` };
          }
          if (totalBytes + bytes > limits.maxInFlightBytes) {
            return { reason: 'gateway_bytes', message: 'the Hangar gateway is holding its most request bytes; retry shortly' };
          }
          state.bytes += bytes;
          totalBytes += bytes;
          reserved += bytes;
          return undefined;
        },
        releaseBytes,
        release() {
          if (released) return;
          released = true;
          releaseBytes();
          state.requests -= 1;
          totalRequests -= 1;
          if (state.requests === 0 && state.bytes === 0) states.delete(key);
        },
      };
    },
    stats() {
      const byKey: Record<string, { requests: number; bytes: number }> = {};
      for (const [key, state] of states) byKey[key] = { requests: state.requests, bytes: state.bytes };
      return { requests: totalRequests, bytes: totalBytes, byKey };
    },
  };
}
