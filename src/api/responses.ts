// The answers a route declares in its schema: its success views (JSON, server-sent events, no
// content) and the error statuses it can answer, each with the Error body and a description. They
// serialize the answers and make the OpenAPI document's responses.
import { z } from 'zod';
import { errorSchema } from './views.js';

/** What each error status means, unless a route says more precisely. */
const ERROR_DESCRIPTIONS = {
  400: 'Invalid request (VALIDATION_FAILED names the fields in details, INVALID_JSON, BAD_REQUEST)',
  402: 'The session spent its maxBudgetUsd (BUDGET_EXCEEDED)',
  403: "Beyond the tenant's policy (POLICY_VIOLATION, details.limit names the limit)",
  404: 'No such resource',
  409: 'The resource is in a state that refuses this',
  413: 'Request body larger than server.bodyLimitBytes (PAYLOAD_TOO_LARGE)',
  414: 'A path parameter is longer than 500 characters (URI_TOO_LONG)',
  415: 'Request body is not application/json (UNSUPPORTED_MEDIA_TYPE)',
  421: 'The Host header names no name of this server (HOST_NOT_ALLOWED; a server bound to loopback only)',
  429: 'No free sandbox (CAPACITY_EXCEEDED): retry after the seconds of Retry-After',
  500: 'Internal error (INTERNAL); the server log has the details',
  503: 'Sandboxes cannot run now (SANDBOX_UNAVAILABLE: the host lacks what they need, or the server is shutting down)',
} as const;

export type ErrorStatus = keyof typeof ERROR_DESCRIPTIONS;

/** A JSON answer. */
export function json<T extends z.ZodType>(description: string, schema: T) {
  return { description, content: { 'application/json': { schema } } };
}

/** The SSE framing every stream of the API uses. */
const SSE_FRAMING =
  'Server-sent events: each event is `id: <n>`, `event: <name>`, `data: <one line of JSON>` and a blank line; ' + 'a `: keep-alive` comment comes every 15 s.';

/** The body of a stream of server-sent events; `events` says which events come and what their data holds. */
export function eventStreamSchema(events: string) {
  return z.string().describe(`${SSE_FRAMING} ${events}`);
}

/** A stream of server-sent events. */
export function eventStream(description: string, events: string) {
  return { description, content: { 'text/event-stream': { schema: eventStreamSchema(events) } } };
}

/** A durable event stream (GET .../events); `types` names its events and their data. */
export function storedEventStream(description: string, types: string) {
  return eventStream(description, `Each event is named by its type, its id is its seq and its data an Event ({ seq, type, createdAt, data }). ${types}`);
}

/** An answer without a body. */
export function noContent(description: string) {
  return z.undefined().describe(description);
}

function errorAnswer(description: string) {
  return json(description, errorSchema);
}

/**
 * The error answers of a route: 421 and 500 on every route; 400 on a route that takes any input (path
 * parameters, a query string, a body); 404 and 414 on a route with path parameters; 413 and 415 on a
 * route that reads a body (any POST or DELETE); and the route's own statuses (a description given
 * here also replaces the default of a status above).
 */
export function errors(route: { params?: boolean; query?: boolean; body?: boolean }, own: Partial<Record<ErrorStatus, string>> = {}) {
  const statuses: ErrorStatus[] = [421, 500];
  if (route.params === true || route.query === true || route.body === true) statuses.push(400);
  if (route.params === true) statuses.push(404, 414);
  if (route.body === true) statuses.push(413, 415);
  statuses.push(...(Object.keys(own).map(Number) as ErrorStatus[]));
  const answers: Partial<Record<ErrorStatus, ReturnType<typeof errorAnswer>>> = {};
  for (const status of statuses.sort((a, b) => a - b)) answers[status] = errorAnswer(own[status] ?? ERROR_DESCRIPTIONS[status]);
  return answers;
}
