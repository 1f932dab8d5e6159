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
