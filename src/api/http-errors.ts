// Every error answer of the API in one format, { error: { code, message, details? } }, Fastify's own
// included: route errors (setErrorHandler), unknown routes and known paths with another method
// (setNotFoundHandler: 404 or 405 with Allow), router errors before any route (frameworkErrors: bad
// percent-encoding, over-long path parameters) and malformed HTTP (clientErrorHandler).
import type { Socket } from 'node:net';
import type { FastifyError, FastifyInstance, FastifyReply, FastifyRequest, FastifyServerOptions } from 'fastify';
import { hasZodFastifySchemaValidationErrors } from 'fastify-type-provider-zod';
import { ERROR_HTTP_STATUS, HangarError, type ErrorBody, type ErrorCode } from '../errors/errors.js';

/** Path parameters longer than this are refused by the router (414); shorter ones reach the route schemas. */
export const MAX_PARAM_LENGTH = 500;

const METHODS = ['GET', 'HEAD', 'POST', 'PUT', 'PATCH', 'DELETE', 'OPTIONS'] as const;

/** The code of a Fastify or Node 4xx status with no more specific code. */
const CODE_OF_STATUS: Partial<Record<number, ErrorCode>> = {
  400: 'BAD_REQUEST',
  404: 'NOT_FOUND',
  405: 'METHOD_NOT_ALLOWED',
  408: 'REQUEST_TIMEOUT',
  413: 'PAYLOAD_TOO_LARGE',
  414: 'URI_TOO_LONG',
  415: 'UNSUPPORTED_MEDIA_TYPE',
  431: 'HEADERS_TOO_LARGE',
};

export function errorBody(code: ErrorCode, message: string, details?: unknown): ErrorBody {
  return details === undefined ? { error: { code, message } } : { error: { code, message, details } };
}

function answer(code: ErrorCode, message: string, details?: unknown): { status: number; body: ErrorBody } {
  return { status: ERROR_HTTP_STATUS[code], body: errorBody(code, message, details) };
}

/** One problem of a request: where (body, querystring, params, headers), which field, what. */
export interface ValidationDetail {
  in: string;
  path: string;
  message: string;
}

/** Schema problems as details; an unknown key is named as its own path. */
export function validationDetails(error: {
  validation: ReadonlyArray<{ instancePath: string; message?: string; keyword: string; params: Record<string, unknown> }>;
  validationContext?: string;
}): ValidationDetail[] {
  const location = error.validationContext ?? 'body';
  const details: ValidationDetail[] = [];
  for (const issue of error.validation) {
    const base = issue.instancePath.replace(/^\//, '').replaceAll('/', '.');
    const keys = issue.params.keys;
    if (issue.keyword === 'unrecognized_keys' && Array.isArray(keys)) {
      const what = location === 'querystring' ? 'parameter' : location === 'params' ? 'path parameter' : 'field';
      for (const key of keys) details.push({ in: location, path: base === '' ? String(key) : `${base}.${String(key)}`, message: `unknown ${what}` });
      continue;
    }
    const missingBody = location === 'body' && base === '' && issue.keyword === 'invalid_type' && /received (null|undefined)$/.test(issue.message ?? '');
    details.push({ in: location, path: base, message: missingBody ? 'a JSON body is required' : (issue.message ?? 'invalid') });
  }
  return details;
}

/** `querystring.limit: ...`; the whole of a location is named alone. */
export function describeDetail(detail: ValidationDetail): string {
  return `${detail.in}${detail.path === '' ? '' : `.${detail.path}`}: ${detail.message}`;
}

/** Maps any thrown error to an HTTP status and Hangar's error body. */
export function toHttpError(error: FastifyError | HangarError | Error): { status: number; body: ErrorBody } {
  if (error instanceof HangarError) return { status: error.httpStatus, body: error.toBody() };
  if (hasZodFastifySchemaValidationErrors(error)) {
    const details = validationDetails(error as Parameters<typeof validationDetails>[0]);
    return answer('VALIDATION_FAILED', `invalid request: ${details.map(describeDetail).join('; ')}`, details);
  }
  const fastifyError = error as FastifyError;
  switch (fastifyError.code) {
    case 'FST_ERR_CTP_INVALID_JSON_BODY':
    case 'FST_ERR_CTP_EMPTY_JSON_BODY':
      return answer('INVALID_JSON', `request body is not valid JSON: ${error.message}`);
    case 'FST_ERR_CTP_BODY_TOO_LARGE':
      return answer('PAYLOAD_TOO_LARGE', 'request body is larger than the server accepts (server.bodyLimitBytes)');
    case 'FST_ERR_CTP_INVALID_MEDIA_TYPE':
      return answer('UNSUPPORTED_MEDIA_TYPE', 'send the request body as application/json');
    case 'FST_ERR_BAD_URL':
      return answer('BAD_REQUEST', 'the request path is not valid percent-encoding');
    case 'FST_ERR_MAX_PARAM_LENGTH':
      return answer('URI_TOO_LONG', `a path parameter is longer than ${MAX_PARAM_LENGTH} characters`);
    default:
      break;
  }
  if (error instanceof SyntaxError && fastifyError.statusCode === 400) {
    return answer('INVALID_JSON', `request body is not valid JSON: ${error.message}`);
  }
  if (typeof fastifyError.statusCode === 'number' && fastifyError.statusCode >= 400 && fastifyError.statusCode < 500) {
    return answer(CODE_OF_STATUS[fastifyError.statusCode] ?? 'BAD_REQUEST', error.message);
  }
  return answer('INTERNAL', 'internal error; the server log has the details');
}

function sendError(error: Error, request: FastifyRequest, reply: FastifyReply): void {
  const { status, body } = toHttpError(error);
  if (status >= 500) request.log.error({ err: error }, 'request failed');
  if (error instanceof HangarError && error.retryAfterSec !== undefined) void reply.header('retry-after', String(error.retryAfterSec));
  void reply.status(status).send(body);
}

/** Malformed HTTP that never became a request: answered on the socket in the same format, then closed. */
function clientErrorHandler(error: Error & { code?: string }, socket: Socket): void {
  if (error.code === 'ECONNRESET' || socket.destroyed) return;
  const { status, body } =
    error.code === 'ERR_HTTP_REQUEST_TIMEOUT'
      ? answer('REQUEST_TIMEOUT', 'the request was not received in time')
      : error.code === 'HPE_HEADER_OVERFLOW'
        ? answer('HEADERS_TOO_LARGE', 'the request line and headers are larger than the server accepts')
        : answer('BAD_REQUEST', 'malformed HTTP request');
  const text = JSON.stringify(body);
  if (socket.writable) {
    socket.write(
      `HTTP/1.1 ${status} ${status === 400 ? 'Bad Request' : 'Error'}\r\nContent-Type: application/json\r\nContent-Length: ${Buffer.byteLength(text)}\r\nConnection: close\r\n\r\n${text}`,
    );
  }
  socket.destroy(error);
}

/** Fastify options that route the router's and the HTTP parser's errors into the error format. */
export function errorServerOptions(): Pick<FastifyServerOptions, 'frameworkErrors' | 'clientErrorHandler' | 'routerOptions'> {
  return {
    routerOptions: { maxParamLength: MAX_PARAM_LENGTH },
    frameworkErrors: (error, request, reply) => sendError(error, request as FastifyRequest, reply as FastifyReply),
    clientErrorHandler,
  };
}

/** Methods with a route for this path (HEAD comes with GET). */
function allowedMethods(app: FastifyInstance, url: string): string[] {
  return METHODS.filter((method) => app.findRoute({ method, url }) !== null);
}

/** The error handler, and 404/405 for requests no route takes. */
export function registerErrorHandling(app: FastifyInstance): void {
  app.setErrorHandler((error, request, reply) => sendError(error as FastifyError, request, reply));
  app.setNotFoundHandler((request, reply) => {
    const path = request.url.split('?')[0] ?? request.url;
    const allowed = allowedMethods(app, path);
    if (allowed.length > 0 && !allowed.includes(request.method)) {
      void reply
        .status(405)
        .header('allow', allowed.join(', '))
        .send(errorBody('METHOD_NOT_ALLOWED', `${request.method} is not allowed on ${path}; use ${allowed.join(', ')}`, { allow: allowed }));
      return;
    }
    void reply.status(404).send(errorBody('NOT_FOUND', `no route for ${request.method} ${path}`));
  });
}
