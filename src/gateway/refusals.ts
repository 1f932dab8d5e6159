// How the model gateway answers a request it does not forward: the reasons it refuses, the status
// and Anthropic error type of each, and the error body the CLI understands.
import type http from 'node:http';

/** Why the gateway answered a request itself instead of forwarding it. */
export type GatewayRefusalReason =
  | 'unauthenticated'
  | 'route'
  | 'query'
  | 'beta'
  | 'too_large'
  | 'concurrency'
  | 'in_flight_bytes'
  | 'gateway_bytes'
  | 'body_timeout'
  | 'aborted'
  | 'invalid_json'
  | 'body_shape'
  | 'body_field'
  | 'server_tool'
  | 'provider_fetch'
  | 'budget'
  | 'tenant_rate'
  | 'tenant_budget';

export const REFUSAL_ANSWERS: Record<GatewayRefusalReason, { status: number; type: string }> = {
  unauthenticated: { status: 401, type: 'authentication_error' },
  route: { status: 404, type: 'not_found_error' },
  query: { status: 400, type: 'invalid_request_error' },
  beta: { status: 400, type: 'invalid_request_error' },
  too_large: { status: 413, type: 'request_too_large' },
  concurrency: { status: 429, type: 'rate_limit_error' },
  in_flight_bytes: { status: 429, type: 'rate_limit_error' },
  gateway_bytes: { status: 429, type: 'rate_limit_error' },
  body_timeout: { status: 408, type: 'invalid_request_error' },
  aborted: { status: 400, type: 'invalid_request_error' },
  invalid_json: { status: 400, type: 'invalid_request_error' },
  body_shape: { status: 413, type: 'request_too_large' },
  body_field: { status: 400, type: 'invalid_request_error' },
  server_tool: { status: 400, type: 'invalid_request_error' },
  provider_fetch: { status: 400, type: 'invalid_request_error' },
  budget: { status: 402, type: 'billing_error' },
  tenant_rate: { status: 429, type: 'rate_limit_error' },
  tenant_budget: { status: 402, type: 'billing_error' },
};

/** Writes an Anthropic-style error; `close` ends the connection (the request body was not read). */
export function anthropicError(
  response: http.ServerResponse,
  status: number,
  type: string,
  message: string,
  close = false,
  extraHeaders: Record<string, string> = {},
): void {
  if (response.headersSent) {
    response.destroy();
    return;
  }
  const body = JSON.stringify({ type: 'error', error: { type, message } });
  const headers: Record<string, string | number> = { ...extraHeaders, 'content-type': 'application/json', 'content-length': Buffer.byteLength(body) };
  if (status === 429 && headers['retry-after'] === undefined) headers['retry-after'] = 1;
  if (close) {
    headers.connection = 'close';
    // Stop reading the unread body once the answer is out: nothing more of it is received or buffered.
    response.once('finish', () => response.socket?.destroy());
  }
  response.writeHead(status, headers);
  response.end(body);
}
