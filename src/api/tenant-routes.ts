// Admin routes of tenants. The operator (an admin key of the default tenant) makes tenants, sets
// their policies and reads any; a tenant's own admin key reads its tenant, its policy and its spend.
// Another tenant's id answers 404 to a tenant admin, as a tenant that does not exist.
import type { FastifyInstance, FastifyRequest } from 'fastify';
import type { ZodTypeProvider } from 'fastify-type-provider-zod';
import { z } from 'zod';
import { HangarError } from '../errors/errors.js';
import { utcDay } from '../gateway/tenant-limits.js';
import type { TenantRecord } from '../store/store.js';
import { tenantIdSchema, tenantPolicySchema } from '../tenants/tenant-policy.js';
import type { ApiDependencies } from './dependencies.js';
import { errors, json } from './responses.js';
import { callerOf, isOperator, visibleTenant } from './tenant-scope.js';

export const tenantViewSchema = z
  .object({
    id: z.string(),
    name: z.string(),
    policy: tenantPolicySchema,
    createdAt: z.string(),
    updatedAt: z.string(),
  })
  .meta({ id: 'Tenant' });

export const tenantUsageViewSchema = z
  .object({
    tenantId: z.string(),
    day: z.string().describe('UTC day, YYYY-MM-DD'),
    requests: z.number().describe('Model calls metered that day'),
    inputTokens: z.number(),
    outputTokens: z.number(),
    costUsd: z.number(),
    dailyBudgetUsd: z.number().nullable().describe("The policy's dailyBudgetUsd, if any"),
    liveSandboxes: z.number().describe('Sandboxes the tenant holds on this server now'),
    maxConcurrentSandboxes: z.number().nullable(),
  })
  .meta({ id: 'TenantUsage' });

export type TenantView = z.infer<typeof tenantViewSchema>;
export type TenantUsageView = z.infer<typeof tenantUsageViewSchema>;

const tenantNotFound = 'No such tenant, or not yours (TENANT_NOT_FOUND)';
const operatorOnly = 'Only the operator (an admin key of the default tenant) manages tenants (FORBIDDEN)';
const idParams = z.object({ id: z.string().min(1).max(200) }).strict();

const present = (tenant: TenantRecord): TenantView => ({
  id: tenant.id,
  name: tenant.name,
  policy: tenantPolicySchema.parse(tenant.policy),
  createdAt: tenant.createdAt,
  updatedAt: tenant.updatedAt,
});

export function registerTenantRoutes(app: FastifyInstance, dependencies: ApiDependencies): void {
  const routes = app.withTypeProvider<ZodTypeProvider>();
  const directory = () => {
    if (dependencies.tenants === undefined) throw new HangarError('NOT_FOUND', 'tenants are not enabled on this server');
    return dependencies.tenants;
  };
  const requireOperator = (request: FastifyRequest): void => {
    if (!isOperator(callerOf(request))) throw new HangarError('FORBIDDEN', 'only the operator (an admin key of the default tenant) manages tenants');
  };
  const visible = (request: FastifyRequest, id: string): Promise<TenantRecord> => visibleTenant(dependencies, request, id);

  routes.post(
    '/v1/tenants',
    {
      schema: {
        operationId: 'createTenant',
        tags: ['tenants'],
        description: 'Make a tenant (operator only); then make its keys with POST /v1/keys { tenantId }',
        body: z.object({ id: tenantIdSchema, name: z.string().min(1).max(200).optional(), policy: tenantPolicySchema.optional() }).strict(),
        response: {
          201: json('The tenant', tenantViewSchema),
          ...errors({ body: true }, { 403: operatorOnly, 409: 'A tenant with this id exists (CONFLICT)' }),
        },
      },
    },
    async (request, reply) => {
      requireOperator(request);
      const tenant = await directory().create(request.body);
      dependencies.logger.info({ tenantId: tenant.id }, 'tenant created');
      return reply.status(201).send(present(tenant));
    },
  );

  routes.get(
    '/v1/tenants',
    {
      schema: {
        operationId: 'listTenants',
        tags: ['tenants'],
        description: "Tenants, oldest first: all of them for the operator, the caller's own otherwise",
        querystring: z.object({}).strict(),
        response: { 200: json('The tenants', z.object({ tenants: z.array(tenantViewSchema) })), ...errors({ query: true }) },
      },
    },
    async (request) => {
      const caller = callerOf(request);
      const tenants = isOperator(caller) ? await directory().list() : [await directory().get(caller.tenantId)];
      return { tenants: tenants.map(present) };
    },
  );

  routes.get(
    '/v1/tenants/:id',
    {
      schema: {
        operationId: 'getTenant',
        tags: ['tenants'],
        description: 'Read a tenant and its policy',
        params: idParams,
        response: { 200: json('The tenant', tenantViewSchema), ...errors({ params: true }, { 404: tenantNotFound }) },
      },
    },
    async (request) => present(await visible(request, request.params.id)),
  );

  routes.patch(
    '/v1/tenants/:id',
    {
      schema: {
        operationId: 'updateTenant',
        tags: ['tenants'],
        description: 'Rename a tenant or replace its whole policy (operator only); it applies to new requests within seconds',
        params: idParams,
        body: z.object({ name: z.string().min(1).max(200).optional(), policy: tenantPolicySchema.optional() }).strict(),
        response: { 200: json('The tenant', tenantViewSchema), ...errors({ params: true, body: true }, { 403: operatorOnly, 404: tenantNotFound }) },
      },
    },
    async (request) => {
      requireOperator(request);
      const tenant = await directory().update(request.params.id, request.body);
      dependencies.logger.info({ tenantId: tenant.id }, 'tenant policy updated');
      return present(tenant);
    },
  );

  routes.get(
    '/v1/tenants/:id/usage',
    {
      schema: {
        operationId: 'getTenantUsage',
        tags: ['tenants'],
        description: "A tenant's model spend of one UTC day (default today) and the sandboxes it holds now",
        params: idParams,
        querystring: z
          .object({
            day: z
              .string()
              .regex(/^\d{4}-\d{2}-\d{2}$/, 'day is YYYY-MM-DD')
              .optional(),
          })
          .strict(),
        response: { 200: json('The usage', tenantUsageViewSchema), ...errors({ params: true, query: true }, { 404: tenantNotFound }) },
      },
    },
    async (request) => {
      const tenant = await visible(request, request.params.id);
      const policy = await directory().policyOf(tenant.id);
      const usage = await dependencies.store.tenantUsage.get(tenant.id, request.query.day ?? utcDay(new Date()));
      return {
        ...usage,
        dailyBudgetUsd: policy.dailyBudgetUsd ?? null,
        liveSandboxes: dependencies.admission?.liveOf(tenant.id) ?? 0,
        maxConcurrentSandboxes: policy.maxConcurrentSandboxes ?? null,
      };
    },
  );
}
