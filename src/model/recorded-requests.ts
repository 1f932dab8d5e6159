// What the scripted model server remembers of each request it answers: method, path, redacted
// headers, body, how it was classified and answered. Kept in one array, oldest dropped past a cap.
import type { FastifyRequest } from 'fastify';

export type RecordedRequestKind = 'main' | 'auxiliary' | 'count_tokens' | 'other';

export type RecordedOutcome = 'message' | 'fault' | 'cut' | 'auxiliary-default' | 'exhausted' | 'invalid' | 'not-found' | 'count-tokens';

export interface RecordedRequest {
  /** 1-based order of arrival. */
  seq: number;
  /** ISO time the request arrived. */
  time: string;
  method: string;
  /** Path with query string, e.g. `/v1/messages?beta=true`. */
  path: string;
  /** Request headers; x-api-key and authorization keep only their last 4 characters. */
  headers: Record<string, string>;
  /** Parsed JSON body; undefined when there was none or it was not JSON. */
  body: unknown;
  kind: RecordedRequestKind;
  /** Why the request was classified auxiliary. */
  auxiliaryReason?: string;
  /** Index in scenario.replies of the reply that answered; -1 for a whenExhausted text. */
  replyIndex?: number;
  outcome: RecordedOutcome;
  /** HTTP status sent (200 for a stream even if it was cut later). */
  status: number;
  stream?: boolean;
}

/** What the handler knows of a request's answer; the recorder adds the rest. */
export type RecordedAnswer = Omit<RecordedRequest, 'seq' | 'time' | 'method' | 'path' | 'headers'>;

export interface RequestRecorder {
  /** Every request so far, in order of arrival (the same array for the recorder's lifetime). */
  requests: RecordedRequest[];
  /** Records a request with its answer and returns the record. */
  record(request: FastifyRequest, answer: RecordedAnswer): RecordedRequest;
  /** Forgets every request (the array is emptied in place). */
  clear(): void;
}

/** Header values as one string each; x-api-key and authorization keep only their last 4 characters. */
export function redactHeaders(headers: FastifyRequest['headers']): Record<string, string> {
  const out: Record<string, string> = {};
  for (const [name, value] of Object.entries(headers)) {
    if (value === undefined) continue;
    const text = Array.isArray(value) ? value.join(', ') : value;
    out[name] = name === 'x-api-key' || name === 'authorization' ? `***${text.slice(-4)}` : text;
  }
  return out;
}

/** A recorder keeping the newest `maxRecorded` requests. */
export function createRequestRecorder(maxRecorded: number): RequestRecorder {
  const requests: RecordedRequest[] = [];
  let seq = 0;
  return {
    requests,
    record(request, answer) {
      const recorded: RecordedRequest = {
        seq: ++seq,
        time: new Date().toISOString(),
        method: request.method,
        path: request.url,
        headers: redactHeaders(request.headers),
        ...answer,
      };
      requests.push(recorded);
      if (requests.length > maxRecorded) requests.splice(0, requests.length - maxRecorded);
      return recorded;
    },
    clear() {
      requests.length = 0;
    },
  };
}
