// The OpenAPI document's error answers: one Error schema ({ error: { code, message, details? } }), the
// statuses each operation can answer besides success, and which request bodies are optional.
import { ERROR_HTTP_STATUS } from '../errors/errors.js';

const STATUS_DESCRIPTIONS: Record<number, string> = {
  400: 'Invalid request (VALIDATION_FAILED names the fields in details, INVALID_JSON, BAD_REQUEST)',
  402: 'The session spent its maxBudgetUsd (BUDGET_EXCEEDED)',
  404: 'No such resource',
  409: 'The resource is in a state that refuses this (SESSION_CLOSED, NO_CHECKPOINT, CONFLICT)',
  413: 'Request body larger than server.bodyLimitBytes (PAYLOAD_TOO_LARGE)',
  415: 'Request body is not application/json (UNSUPPORTED_MEDIA_TYPE)',
  429: 'No free sandbox (CAPACITY_EXCEEDED, with Retry-After)',
};

/** Statuses beyond 400 (every operation) and 404 (every operation on an id), by "method path". */
const ROUTE_STATUSES: Record<string, number[]> = {
  'post /v1/tasks': [413, 415, 429],
  'post /v1/sessions': [409, 413, 415, 429],
  'post /v1/sessions/{id}/messages': [402, 409, 413, 415, 429],
  'post /v1/sessions/{id}/fork': [409],
  'post /v1/sessions/{id}/interrupt': [409],
  'post /v1/sessions/{id}/hibernate': [409],
  'post /v1/sessions/{id}/schedules': [409],
  'post /v1/sandboxes': [429],
};

/** Operations whose body may be left out (an empty object is assumed). */
const OPTIONAL_BODIES = new Set(['post /v1/sessions/{id}/fork', 'post /v1/sandboxes']);

const ERROR_SCHEMA = {
  type: 'object',
  required: ['error'],
  properties: {
    error: {
      type: 'object',
      required: ['code', 'message'],
      properties: {
        code: { type: 'string', enum: Object.keys(ERROR_HTTP_STATUS) },
        message: { type: 'string' },
        details: { description: 'What exactly was wrong; for VALIDATION_FAILED a list of { in, path, message }' },
      },
    },
  },
};

interface Operation {
  requestBody?: { required?: boolean };
  responses?: Record<string, unknown>;
}

interface OpenApiShape {
  paths?: Record<string, Record<string, Operation> | undefined>;
  components?: { schemas?: Record<string, unknown> };
}

/** Adds the Error schema and the error statuses of every operation; marks optional bodies. */
export function documentErrors<T extends object>(document: T): T {
  const openapi = document as OpenApiShape;
  openapi.components = { ...openapi.components, schemas: { ...openapi.components?.schemas, Error: ERROR_SCHEMA } };
  const errorResponse = (status: number) => ({
    description: STATUS_DESCRIPTIONS[status] ?? 'Error',
    content: { 'application/json': { schema: { $ref: '#/components/schemas/Error' } } },
  });
  for (const [path, operations] of Object.entries(openapi.paths ?? {})) {
    for (const [method, operation] of Object.entries(operations ?? {})) {
      const key = `${method} ${path}`;
      const statuses = new Set([400, ...(path.includes('{') ? [404] : []), ...(ROUTE_STATUSES[key] ?? [])]);
      operation.responses ??= {};
      for (const status of [...statuses].sort()) operation.responses[String(status)] ??= errorResponse(status);
      if (OPTIONAL_BODIES.has(key) && operation.requestBody !== undefined) operation.requestBody.required = false;
    }
  }
  return document;
}
