// Routes of the egress log: GET /v1/tasks/:id/egress and GET /v1/sessions/:id/egress list what
// the egress proxy decided for a task's or a session's sandbox, oldest first, paged by `after`.
// In learn mode this is the list of hosts the agent tried, to build an allowlist from.
import type { FastifyInstance } from 'fastify';
import type { ZodTypeProvider } from 'fastify-type-provider-zod';
import { z } from 'zod';
import type { ApiDependencies } from './dependencies.js';
import { errors, json } from './responses.js';

export const egressEntryViewSchema = z
  .object({
    seq: z.number().describe('Number of the decision within its task or session, from 1'),
    at: z.string().describe('ISO 8601 time the request arrived'),
    method: z.string().describe('CONNECT for a tunnel, else the HTTP method of a plain or intercepted request'),
    host: z.string(),
    port: z.number(),
    verdict: z.enum(['allowed', 'denied']),
    reason: z.string().describe('The rule that allowed it, or what refused it'),
    address: z.string().nullable().describe('The address dialed, when one was'),
    bytesOut: z.number().describe('Bytes from the sandbox to the host'),
    bytesIn: z.number().describe('Bytes from the host to the sandbox'),
    durationMs: z.number(),
  })
  .meta({ id: 'EgressEntry' });

export const egressLogSchema = z.object({
  entries: z.array(egressEntryViewSchema),
  nextAfter: z.number().nullable().describe('Pass as `after` for the next page; null when this page is the last'),
});

export type EgressEntryView = z.infer<typeof egressEntryViewSchema>;
export type EgressLogView = z.infer<typeof egressLogSchema>;

const idParams = z.object({ id: z.string().min(1).max(200) }).strict();
const pageQuery = z
  .object({
    after: z.coerce.number().int().min(0).optional().describe('Only decisions numbered after this'),
    limit: z.coerce.number().int().min(1).max(1000).default(200),
  })
  .strict();

export function registerEgressRoutes(app: FastifyInstance, dependencies: ApiDependencies): void {
  const routes = app.withTypeProvider<ZodTypeProvider>();
  const { store, taskService, sessionManager } = dependencies;

  const page = async (ownerId: string, query: z.infer<typeof pageQuery>): Promise<EgressLogView> => {
    const entries = await store.egress.list(ownerId, { ...(query.after !== undefined ? { after: query.after } : {}), limit: query.limit });
    return { entries, nextAfter: entries.length === query.limit ? entries.at(-1)!.seq : null };
  };

  routes.get(
    '/v1/tasks/:id/egress',
    {
      schema: {
        operationId: 'listTaskEgress',
        tags: ['tasks', 'egress'],
        description: "What the egress proxy decided for the task's sandbox, oldest first (complete once the task has finished)",
        params: idParams,
        querystring: pageQuery,
        response: { 200: json('Its egress decisions', egressLogSchema), ...errors({ params: true, query: true }, { 404: 'No such task (TASK_NOT_FOUND)' }) },
      },
    },
    async (request) => {
      await taskService.get(request.params.id);
      return page(request.params.id, request.query);
    },
  );

  routes.get(
    '/v1/sessions/:id/egress',
    {
      schema: {
        operationId: 'listSessionEgress',
        tags: ['sessions', 'egress'],
        description: "What the egress proxy decided for the session's sandbox, oldest first",
        params: idParams,
        querystring: pageQuery,
        response: {
          200: json('Its egress decisions', egressLogSchema),
          ...errors({ params: true, query: true }, { 404: 'No such session (SESSION_NOT_FOUND)' }),
        },
      },
    },
    async (request) => {
      await sessionManager.get(request.params.id);
      return page(request.params.id, request.query);
    },
  );
}
