// Routes of shared sandboxes (pattern 4): made on their own, listed, read and closed with the
// sessions in them.
import type { FastifyInstance } from 'fastify';
import type { ZodTypeProvider } from 'fastify-type-provider-zod';
import { z } from 'zod';
import type { ApiDependencies } from './dependencies.js';
import { errors, json } from './responses.js';
import { resourcesSchema } from './schemas.js';
import { emptyBodyAsObject } from './session-routes.js';
import { callerOf, scopedToCaller } from './tenant-scope.js';
import { sandboxViewSchema } from './views.js';

const idParams = z.object({ id: z.string().min(1).max(200) }).strict();
const sandboxNotFound = 'No such shared sandbox (SANDBOX_NOT_FOUND)';

export function registerSandboxRoutes(app: FastifyInstance, dependencies: ApiDependencies): void {
  const routes = app.withTypeProvider<ZodTypeProvider>();
  const { sessionManager, config } = dependencies;

  routes.post(
    '/v1/sandboxes',
    {
      preValidation: emptyBodyAsObject,
      schema: {
        operationId: 'createSandbox',
        tags: ['sandboxes'],
        description: 'Create a sandbox shared by several sessions (the body is optional)',
        body: z
          .object({ resources: resourcesSchema(config).optional() })
          .strict()
          .default({}),
        response: {
          201: json('The sandbox, running', sandboxViewSchema),
          ...errors(
            { body: true },
            {
              403: "Beyond the tenant's policy (POLICY_VIOLATION: maxResources)",
              429: "No free sandbox (CAPACITY_EXCEEDED: sandbox.maxLive, or the tenant's maxConcurrentSandboxes): retry after the seconds of Retry-After",
              500: 'The sandbox could not be made (SANDBOX_FAILED), or INTERNAL',
              503: 'Sandboxes cannot run on this host (SANDBOX_UNAVAILABLE)',
            },
          ),
        },
      },
    },
    async (request, reply) => {
      const { resources, tenantId } = await scopedToCaller(dependencies, request, request.body);
      return reply.status(201).send(await sessionManager.createSharedSandbox({ ...(resources !== undefined ? { resources } : {}), tenantId }));
    },
  );

  routes.get(
    '/v1/sandboxes',
    {
      schema: {
        operationId: 'listSandboxes',
        tags: ['sandboxes'],
        description: 'List shared sandboxes, oldest first, with the sessions in each',
        querystring: z.object({ status: z.enum(['active', 'closed']).optional().describe('Only sandboxes in this status') }).strict(),
        response: { 200: json('The shared sandboxes', z.object({ sandboxes: z.array(sandboxViewSchema) })), ...errors({ query: true }) },
      },
    },
    async (request) => ({
      sandboxes: await sessionManager.listSharedSandboxes({
        ...(request.query.status !== undefined ? { status: request.query.status } : {}),
        tenantId: callerOf(request).tenantId,
      }),
    }),
  );

  routes.get(
    '/v1/sandboxes/:id',
    {
      schema: {
        operationId: 'getSandbox',
        tags: ['sandboxes'],
        description: 'Read a shared sandbox, with the sessions in it',
        params: idParams,
        response: { 200: json('The sandbox', sandboxViewSchema), ...errors({ params: true }, { 404: sandboxNotFound }) },
      },
    },
    async (request) => sessionManager.getSharedSandbox(request.params.id),
  );

  routes.delete(
    '/v1/sandboxes/:id',
    {
      schema: {
        operationId: 'closeSandbox',
        tags: ['sandboxes'],
        description: 'Close the sandbox and every session in it',
        params: idParams,
        response: { 200: json('The sandbox, closed', sandboxViewSchema), ...errors({ params: true, body: true }, { 404: sandboxNotFound }) },
      },
    },
    async (request) => sessionManager.closeSharedSandbox(request.params.id),
  );
}
