// What the egress proxy records of every connection a sandbox asks for: one record per decision,
// written when the connection ends (or at once when it is refused).

export type EgressVerdict = 'allowed' | 'denied';

export interface EgressRecord {
  /** When the request arrived (ISO 8601). */
  at: string;
  /** `CONNECT` for a tunnel, else the HTTP method of a plain-HTTP request. */
  method: string;
  host: string;
  port: number;
  verdict: EgressVerdict;
  /** Why: the rule that allowed it, or what refused it. */
  reason: string;
  /** The address dialed, when one was. */
  address?: string;
  /** Bytes from the sandbox to the upstream, and back. */
  bytesOut: number;
  bytesIn: number;
  durationMs: number;
}

export type EgressRecorder = (record: EgressRecord) => void;

/** What a decision adds to the request it is about. */
export interface DecisionDetails {
  address?: string;
  bytesOut?: number;
  bytesIn?: number;
}

/**
 * A function that records the decision about one request (method, host, port, started at
 * `started` ms): its verdict, why, and what was dialed and carried; the duration is measured then.
 */
export function decisionRecorder(
  record: EgressRecorder,
  request: { method: string; host: string; port: number; started: number },
): (verdict: EgressVerdict, reason: string, details?: DecisionDetails) => void {
  return (verdict, reason, details = {}) =>
    record({
      at: new Date(request.started).toISOString(),
      method: request.method,
      host: request.host,
      port: request.port,
      verdict,
      reason,
      ...(details.address !== undefined ? { address: details.address } : {}),
      bytesOut: details.bytesOut ?? 0,
      bytesIn: details.bytesIn ?? 0,
      durationMs: Date.now() - request.started,
    });
}
