// Admin routes of API keys (scope admin): POST /v1/keys makes one and shows its token once,
// GET /v1/keys lists them (never a secret or its hash), DELETE /v1/keys/:id revokes one at once.
// A tenant's admin manages its own tenant's keys; the operator (an admin key of the default tenant)
// manages every tenant's. The operator's last admin key cannot be revoked: that would lock it out.
import type { FastifyInstance } from 'fastify';
import type { ZodTypeProvider } from 'fastify-type-provider-zod';
import { z } from 'zod';
import { generateApiKey } from '../auth/api-keys.js';
import { API_KEY_SCOPES } from '../auth/scopes.js';
import { HangarError } from '../errors/errors.js';
import { DEFAULT_TENANT_ID, type ApiKeyRecord, type ApiKeyScope } from '../store/store.js';
import { tenantIdSchema } from '../tenants/tenant-policy.js';
import type { ApiDependencies } from './dependencies.js';
import { errors, json } from './responses.js';
import { callerOf, isOperator } from './tenant-scope.js';

export const apiKeyViewSchema = z
  .object({
    id: z.string(),
    tenantId: z.string(),
    name: z.string(),
    scopes: z.array(z.enum(API_KEY_SCOPES as [ApiKeyScope, ...ApiKeyScope[]])),
    createdAt: z.string(),
    revokedAt: z.string().nullable(),
    lastUsedAt: z.string().nullable().describe('Written at most once a minute'),
  })
  .meta({ id: 'ApiKey' });

export const createdApiKeySchema = z.object({
  key: apiKeyViewSchema,
  token: z.string().describe('The key itself, shown this once: send it as Authorization: Bearer <token>'),
});

export type ApiKeyView = z.infer<typeof apiKeyViewSchema>;
export type CreatedApiKeyView = z.infer<typeof createdApiKeySchema>;

const keyRequestSchema = z
  .object({
    name: z.string().min(1).max(200).describe('What the key is for'),
    scopes: z
      .array(z.enum(API_KEY_SCOPES as [ApiKeyScope, ...ApiKeyScope[]]))
      .min(1)
      .max(3)
      .describe('admin (everything, keys included), run (tasks, sessions, sandboxes), read (GET only)'),
    tenantId: tenantIdSchema.optional().describe("The tenant the key acts for (default the caller's; another tenant: operator only)"),
  })
  .strict();

const present = (key: ApiKeyRecord): ApiKeyView => ({
  id: key.id,
  tenantId: key.tenantId,
  name: key.name,
  scopes: key.scopes,
  createdAt: key.createdAt,
  revokedAt: key.revokedAt,
  lastUsedAt: key.lastUsedAt,
});

export function registerKeyRoutes(app: FastifyInstance, dependencies: ApiDependencies): void {
  const routes = app.withTypeProvider<ZodTypeProvider>();
  const { store } = dependencies;

  routes.post(
    '/v1/keys',
    {
      schema: {
        operationId: 'createApiKey',
        tags: ['keys'],
        description: 'Make an API key; its token is in this answer only',
        body: keyRequestSchema,
        response: {
          201: json('The key and its token', createdApiKeySchema),
          ...errors({ body: true }, { 404: 'No such tenant, or not yours (TENANT_NOT_FOUND)' }),
        },
      },
    },
    async (request, reply) => {
      const caller = callerOf(request);
      const tenantId = request.body.tenantId ?? caller.tenantId;
      // Another tenant is one that does not exist, for a tenant's own admin.
      if (tenantId !== caller.tenantId && !isOperator(caller)) throw new HangarError('TENANT_NOT_FOUND', `tenant ${tenantId} does not exist`);
      if (dependencies.tenants !== undefined) await dependencies.tenants.get(tenantId);
      else if (tenantId !== DEFAULT_TENANT_ID) throw new HangarError('TENANT_NOT_FOUND', `tenant ${tenantId} does not exist`);
      const made = generateApiKey();
      const key: ApiKeyRecord = {
        id: made.id,
        tenantId,
        name: request.body.name,
        secretHash: made.secretHash,
        scopes: [...new Set(request.body.scopes)],
        createdAt: new Date().toISOString(),
        revokedAt: null,
        lastUsedAt: null,
      };
      await store.apiKeys.insert(key);
      dependencies.logger.info({ keyId: key.id, tenantId, scopes: key.scopes }, 'API key created');
      return reply.status(201).send({ key: present(key), token: made.token });
    },
  );

  routes.get(
    '/v1/keys',
    {
      schema: {
        operationId: 'listApiKeys',
        tags: ['keys'],
        description: "API keys, oldest first, revoked ones included, never a secret: the caller's tenant's (the operator's: every tenant's, or one's)",
        querystring: z.object({ tenantId: tenantIdSchema.optional().describe('Only this tenant (operator)') }).strict(),
        response: { 200: json('The keys', z.object({ keys: z.array(apiKeyViewSchema) })), ...errors({ query: true }) },
      },
    },
    async (request) => {
      const caller = callerOf(request);
      const tenantId = isOperator(caller) ? request.query.tenantId : caller.tenantId;
      const keys = await store.apiKeys.list();
      return { keys: keys.filter((key) => tenantId === undefined || key.tenantId === tenantId).map(present) };
    },
  );

  routes.delete(
    '/v1/keys/:id',
    {
      schema: {
        operationId: 'revokeApiKey',
        tags: ['keys'],
        description: 'Revoke an API key: requests with it answer 401 from now on',
        params: z.object({ id: z.string().min(1).max(200) }).strict(),
        response: {
          200: json('The key, revoked', apiKeyViewSchema),
          ...errors(
            { params: true, body: true },
            { 404: "No such key, or not your tenant's (API_KEY_NOT_FOUND)", 409: "The operator's last admin key cannot be revoked (CONFLICT)" },
          ),
        },
      },
    },
    async (request) => {
      const { id } = request.params;
      const caller = callerOf(request);
      const keys = await store.apiKeys.list();
      const key = keys.find((candidate) => candidate.id === id);
      if (key === undefined || (key.tenantId !== caller.tenantId && !isOperator(caller)))
        throw new HangarError('API_KEY_NOT_FOUND', `API key ${id} does not exist`);
      const operatorAdmins = keys.filter(
        (candidate) => candidate.tenantId === DEFAULT_TENANT_ID && candidate.revokedAt === null && candidate.scopes.includes('admin'),
      );
      if (key.tenantId === DEFAULT_TENANT_ID && key.revokedAt === null && key.scopes.includes('admin') && operatorAdmins.length === 1) {
        throw new HangarError('CONFLICT', `API key ${id} is the operator's last admin key; make another admin key first`);
      }
      const revoked = await store.apiKeys.revoke(id, new Date().toISOString());
      dependencies.logger.info({ keyId: id }, 'API key revoked');
      return present(revoked);
    },
  );
}
