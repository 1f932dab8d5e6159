// Admin routes of a tenant's own secrets: PUT /v1/tenants/:id/secrets/:name sets one (its value
// stored sealed, never shown again), GET lists them (names, hosts, injection, times; never a value),
// DELETE removes one. The tenant's admin keys and the operator may; another tenant answers 404, as
// a tenant that does not exist. The tenant's tasks and sessions name a secret in network.secrets;
// a change applies to sandboxes set up afterwards.
import type { FastifyInstance } from 'fastify';
import type { ZodTypeProvider } from 'fastify-type-provider-zod';
import { z } from 'zod';
import { MAX_TENANT_SECRETS, type TenantSecrets } from '../egress/tenant-secrets.js';
import { HangarError } from '../errors/errors.js';
import { secretHostsSchema, secretInjectSchema, secretNameSchema, secretValueSchema } from '../runner/agent-options.js';
import { checkSecretHosts } from '../tenants/policy-check.js';
import type { ApiDependencies } from './dependencies.js';
import { errors, json, noContent } from './responses.js';
import { visibleTenant } from './tenant-scope.js';

export const tenantSecretViewSchema = z
  .object({
    name: z.string().describe('The environment variable the sandbox sees the placeholder in'),
    hosts: z.array(z.string()).describe('Host rules the value may be sent to'),
    inject: z
      .union([z.literal('placeholder'), z.object({ header: z.string(), template: z.string().optional() })])
      .describe('placeholder: the value replaces the placeholder in headers; { header, template }: the proxy sets that header'),
    createdAt: z.string(),
    updatedAt: z.string().describe('When the value or its hosts were last set'),
  })
  .meta({ id: 'TenantSecret' });

export type TenantSecretView = z.infer<typeof tenantSecretViewSchema>;

const tenantNotFound = 'No such tenant, or not yours (TENANT_NOT_FOUND)';
const idParams = z.object({ id: z.string().min(1).max(200) }).strict();
const secretParams = z.object({ id: z.string().min(1).max(200), name: secretNameSchema.describe('The secret: an environment variable name') }).strict();

export function registerTenantSecretRoutes(app: FastifyInstance, dependencies: ApiDependencies): void {
  const routes = app.withTypeProvider<ZodTypeProvider>();
  const secrets = (): TenantSecrets => {
    if (dependencies.tenantSecrets === undefined) throw new HangarError('NOT_FOUND', 'tenant secrets are not enabled on this server');
    return dependencies.tenantSecrets;
  };

  routes.put(
    '/v1/tenants/:id/secrets/:name',
    {
      schema: {
        operationId: 'setTenantSecret',
        tags: ['tenants'],
        description:
          "Set one of a tenant's secrets (replacing the one of that name): the tenant's tasks and sessions name it in network.secrets " +
          '(before a configured secret of the same name) and get a placeholder; the proxy puts the value into requests to its hosts only. ' +
          `The value is stored sealed and never shown; sandboxes set up from now on get it. At most ${MAX_TENANT_SECRETS} per tenant`,
        params: secretParams,
        body: z.object({ value: secretValueSchema, hosts: secretHostsSchema, inject: secretInjectSchema.optional() }).strict(),
        response: {
          200: json('The secret, without its value', tenantSecretViewSchema),
          ...errors(
            { params: true, body: true },
            {
              403: "A host is not within the tenant's policy (POLICY_VIOLATION, details.limit network.allowedHosts)",
              404: tenantNotFound,
              409: `The tenant keeps ${MAX_TENANT_SECRETS} secrets already (CONFLICT)`,
            },
          ),
        },
      },
    },
    async (request) => {
      const { id, name } = request.params;
      const tenant = await visibleTenant(dependencies, request, id);
      // The hosts lie within the tenant's policy, as those of a secret a request declares must.
      checkSecretHosts({ id: tenant.id, policy: (await dependencies.tenants?.policyOf(tenant.id)) ?? {} }, request.body.hosts);
      const secret = await secrets().set(tenant.id, { name, ...request.body });
      dependencies.logger.info({ tenantId: tenant.id, secret: name, hosts: secret.hosts }, 'tenant secret set');
      return secret;
    },
  );

  routes.get(
    '/v1/tenants/:id/secrets',
    {
      schema: {
        operationId: 'listTenantSecrets',
        tags: ['tenants'],
        description: "A tenant's secrets by name: hosts, injection and times, never a value",
        params: idParams,
        response: {
          200: json('The secrets', z.object({ secrets: z.array(tenantSecretViewSchema) })),
          ...errors({ params: true }, { 404: tenantNotFound }),
        },
      },
    },
    async (request) => {
      const tenant = await visibleTenant(dependencies, request, request.params.id);
      return { secrets: await secrets().list(tenant.id) };
    },
  );

  routes.delete(
    '/v1/tenants/:id/secrets/:name',
    {
      schema: {
        operationId: 'deleteTenantSecret',
        tags: ['tenants'],
        description: "Delete one of a tenant's secrets: sandboxes set up from now on do not get it (a task or session naming it is refused)",
        params: secretParams,
        response: {
          204: noContent('Deleted'),
          ...errors({ params: true, body: true }, { 404: 'No such tenant, or not yours (TENANT_NOT_FOUND); the tenant has no such secret (SECRET_NOT_FOUND)' }),
        },
      },
    },
    async (request, reply) => {
      const { id, name } = request.params;
      const tenant = await visibleTenant(dependencies, request, id);
      await secrets().delete(tenant.id, name);
      dependencies.logger.info({ tenantId: tenant.id, secret: name }, 'tenant secret deleted');
      return reply.status(204).send();
    },
  );
}
