// The HTTP API: Fastify with zod validation (fastify-type-provider-zod), an OpenAPI document built
// from the same schemas, and one error format: { error: { code, message, details? } }.
import swagger from '@fastify/swagger';
import Fastify, { type FastifyBaseLogger, type FastifyInstance } from 'fastify';
import { jsonSchemaTransform, serializerCompiler, validatorCompiler, type ZodTypeProvider } from 'fastify-type-provider-zod';
import { HangarError } from '../errors/errors.js';
import type { ApiDependencies } from './dependencies.js';
import { allowedHostNames, isAllowedHost } from './host-check.js';
import { errorBody, errorServerOptions, registerErrorHandling } from './http-errors.js';
import { finishOpenApiDocument } from './openapi-document.js';
import { OneLinePerRequest } from './request-log.js';
import { errors, json } from './responses.js';
import { registerEgressRoutes } from './egress-routes.js';
import { registerKeyRoutes } from './key-routes.js';
import { registerSandboxRoutes } from './sandbox-routes.js';
import { registerSessionRoutes } from './session-routes.js';
import { registerTaskRoutes } from './task-routes.js';
import { LOCAL_OPERATOR, registerTenantGuard } from './tenant-scope.js';
import { registerTenantRoutes } from './tenant-routes.js';
import { registerTenantSecretRoutes } from './tenant-secret-routes.js';
import { healthSchema, readinessSchema } from './views.js';

export async function buildApiServer(dependencies: ApiDependencies): Promise<FastifyInstance> {
  const { config, logger } = dependencies;
  const app = Fastify({
    loggerInstance: logger as FastifyBaseLogger,
    bodyLimit: config.server.bodyLimitBytes,
    logController: new OneLinePerRequest(),
    ...errorServerOptions(),
  }).withTypeProvider<ZodTypeProvider>();
  // The API speaks JSON only; other bodies get 415 instead of reaching validation as strings.
  app.removeContentTypeParser('text/plain');
  // An empty JSON body is no body: routes whose body is optional take it, the others name the missing body.
  const parseJson = app.getDefaultJsonParser('error', 'error');
  app.removeContentTypeParser('application/json');
  app.addContentTypeParser('application/json', { parseAs: 'string' }, (request, body, done) => {
    const text = typeof body === 'string' ? body : body.toString('utf8');
    if (text === '') done(null, undefined);
    else parseJson(request, text, done);
  });
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
    transformObject: finishOpenApiDocument,
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
  registerErrorHandling(app);

  // API keys: every /v1 request needs one with the scope it asks for (auth/authenticator.ts).
  const { authenticator } = dependencies;
  if (authenticator !== undefined) {
    app.addHook('onRequest', async (request, reply) => {
      // The matched route's pattern decides, not the raw request target: that may be absolute-form
      // (`GET http://host/v1/keys`), which the router still takes to /v1/keys; also percent-encodings, //.
      const path = request.routeOptions.url ?? request.url.split('?')[0] ?? '';
      if (!path.startsWith('/v1/') && path !== '/v1') return;
      try {
        request.caller = await authenticator.authenticate({ method: request.method, path, headers: request.headers });
      } catch (error) {
        if (error instanceof HangarError && error.code === 'UNAUTHORIZED') void reply.header('www-authenticate', 'Bearer realm="hangar"');
        throw error;
      }
    });
  } else {
    // auth.mode none (loopback only): every request acts as the operator.
    app.addHook('onRequest', async (request) => {
      request.caller = LOCAL_OPERATOR;
    });
  }

  app.get(
    '/healthz',
    { schema: { operationId: 'health', tags: ['health'], description: 'The server answers', response: { 200: json('Alive', healthSchema), ...errors({}) } } },
    async () => ({ status: 'ok' as const }),
  );
  // Ready: the store answers and sandboxes can run on this host. Otherwise 503 with the reason.
  const notReady = 'Not ready: the store does not answer (NOT_READY) or sandboxes cannot run on this host (SANDBOX_UNAVAILABLE)';
  const readiness = {
    operationId: 'readiness',
    tags: ['health'],
    description: 'The store answers and sandboxes can run on this host',
    response: { 200: json('Ready', readinessSchema), ...errors({}, { 503: notReady }) },
  };
  app.get('/readyz', { schema: readiness }, async (_request, reply) => {
    try {
      await dependencies.store.tasks.list({ limit: 1 });
    } catch (error) {
      return reply.status(503).send(errorBody('NOT_READY', `store unavailable: ${(error as Error).message}`));
    }
    try {
      await dependencies.checkSandboxHost?.();
    } catch (error) {
      return reply.status(503).send(errorBody('SANDBOX_UNAVAILABLE', `sandboxes cannot run on this host: ${(error as Error).message}`));
    }
    return { status: 'ready' as const, runningTasks: dependencies.taskService.runningCount, liveSessions: dependencies.sessionManager.liveCount };
  });
  app.get('/openapi.json', { schema: { hide: true } }, async () => app.swagger());

  // Another tenant's task, session or sandbox answers 404 (tenant-scope.ts).
  registerTenantGuard(app, dependencies);
  registerTaskRoutes(app, dependencies);
  registerSessionRoutes(app, dependencies);
  registerSandboxRoutes(app, dependencies);
  registerEgressRoutes(app, dependencies);
  registerKeyRoutes(app, dependencies);
  registerTenantRoutes(app, dependencies);
  registerTenantSecretRoutes(app, dependencies);
  return app;
}
