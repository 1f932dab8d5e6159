// The HTTP API: Fastify with zod validation (fastify-type-provider-zod), an OpenAPI document built
// from the same schemas, and one error format: { error: { code, message, details? } }.
import swagger from '@fastify/swagger';
import Fastify, { type FastifyBaseLogger, type FastifyError, type FastifyInstance } from 'fastify';
import { hasZodFastifySchemaValidationErrors, jsonSchemaTransform, serializerCompiler, validatorCompiler, type ZodTypeProvider } from 'fastify-type-provider-zod';
import type { Logger } from 'pino';
import type { HangarConfig } from '../config/config.js';
import { HangarError, type ErrorBody } from '../errors/errors.js';
import type { Admission } from '../sessions/admission.js';
import type { EventHub } from '../sessions/event-hub.js';
import type { SessionManager } from '../sessions/session-manager.js';
import type { TaskService } from '../sessions/task-service.js';
import type { Store } from '../store/store.js';
import { allowedHostNames, isAllowedHost } from './host-check.js';
import { registerSessionRoutes } from './session-routes.js';
import { registerTaskRoutes } from './task-routes.js';

export interface ApiDependencies {
  config: HangarConfig;
  taskService: TaskService;
  sessionManager: SessionManager;
  eventHub: EventHub;
  store: Store;
  logger: Logger;
  version: string;
  /** Live-sandbox ceiling: a streamed task checks it before its stream opens (429 instead of an error event). */
  admission?: Admission;
}

function errorBody(code: ErrorBody['error']['code'], message: string, details?: unknown): ErrorBody {
  return details === undefined ? { error: { code, message } } : { error: { code, message, details } };
}

/** Maps any thrown error to an HTTP status and Hangar's error body. */
function toHttpError(error: FastifyError | HangarError | Error): { status: number; body: ErrorBody } {
  if (error instanceof HangarError) return { status: error.httpStatus, body: error.toBody() };
  if (hasZodFastifySchemaValidationErrors(error)) {
    const details = error.validation.map((issue) => ({
      path: issue.instancePath.replace(/^\//, '').replaceAll('/', '.') || '(body)',
      message: issue.message ?? 'invalid',
    }));
    const summary = details.map((detail) => `${detail.path}: ${detail.message}`).join('; ');
    return { status: 400, body: errorBody('VALIDATION_FAILED', `invalid request: ${summary}`, details) };
  }
  const fastifyError = error as FastifyError;
  switch (fastifyError.code) {
    case 'FST_ERR_CTP_INVALID_JSON_BODY':
    case 'FST_ERR_CTP_EMPTY_JSON_BODY':
      return { status: 400, body: errorBody('INVALID_JSON', `request body is not valid JSON: ${error.message}`) };
    case 'FST_ERR_CTP_BODY_TOO_LARGE':
      return { status: 413, body: errorBody('PAYLOAD_TOO_LARGE', 'request body is larger than the server accepts (server.bodyLimitBytes)') };
    case 'FST_ERR_CTP_INVALID_MEDIA_TYPE':
      return { status: 415, body: errorBody('UNSUPPORTED_MEDIA_TYPE', 'send the request body as application/json') };
    default:
      break;
  }
  if (error instanceof SyntaxError && fastifyError.statusCode === 400) {
    return { status: 400, body: errorBody('INVALID_JSON', `request body is not valid JSON: ${error.message}`) };
  }
  if (typeof fastifyError.statusCode === 'number' && fastifyError.statusCode >= 400 && fastifyError.statusCode < 500) {
    return { status: fastifyError.statusCode, body: errorBody('BAD_REQUEST', error.message) };
  }
  return { status: 500, body: errorBody('INTERNAL', 'internal error; the server log has the details') };
}

export async function buildApiServer(dependencies: ApiDependencies): Promise<FastifyInstance> {
  const { config, logger } = dependencies;
  const app = Fastify({
    loggerInstance: logger as FastifyBaseLogger,
    bodyLimit: config.server.bodyLimitBytes,
  }).withTypeProvider<ZodTypeProvider>();
  // The API speaks JSON only; other bodies get 415 instead of reaching validation as strings.
  app.removeContentTypeParser('text/plain');
  app.setValidatorCompiler(validatorCompiler);
  app.setSerializerCompiler(serializerCompiler);

  await app.register(swagger, {
    openapi: {
      openapi: '3.1.0',
      info: {
        title: 'Hangar API',
        version: dependencies.version,
        description: 'Runs Claude Agent SDK sessions in isolated sandboxes. Errors: { error: { code, message, details? } }.',
      },
    },
    transform: jsonSchemaTransform,
  });

  app.setErrorHandler((error, request, reply) => {
    const { status, body } = toHttpError(error as FastifyError);
    if (status >= 500) request.log.error({ err: error }, 'request failed');
    if (error instanceof HangarError && error.retryAfterSec !== undefined) void reply.header('retry-after', String(error.retryAfterSec));
    void reply.status(status).send(body);
  });
  // DNS rebinding: a loopback-bound server answers only requests that name it (host-check.ts).
  const hostNames = allowedHostNames(config.server.host, config.server.allowedHosts);
  if (hostNames !== undefined) {
    app.addHook('onRequest', async (request, reply) => {
      const address = app.server.address();
      const port = address !== null && typeof address === 'object' ? address.port : undefined;
      if (isAllowedHost(request.headers.host, hostNames, port)) return;
      const shown = (request.headers.host ?? '(none)').slice(0, 100);
      return reply.status(421).send(errorBody('HOST_NOT_ALLOWED', `Host ${JSON.stringify(shown)} is not a name of this server (server.allowedHosts)`));
    });
  }
  app.setNotFoundHandler((request, reply) => {
    void reply.status(404).send(errorBody('NOT_FOUND', `no route for ${request.method} ${request.url.split('?')[0]}`));
  });

  app.get('/healthz', { schema: { hide: true } }, async () => ({ status: 'ok' }));
  app.get('/readyz', { schema: { hide: true } }, async (_request, reply) => {
    try {
      await dependencies.store.tasks.list({ limit: 1 });
      return { status: 'ready', runningTasks: dependencies.taskService.runningCount, liveSessions: dependencies.sessionManager.liveCount };
    } catch (error) {
      return reply.status(503).send(errorBody('INTERNAL', `store unavailable: ${(error as Error).message}`));
    }
  });
  app.get('/openapi.json', { schema: { hide: true } }, async () => app.swagger());

  registerTaskRoutes(app, dependencies);
  registerSessionRoutes(app, dependencies);
  return app;
}
