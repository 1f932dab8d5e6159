// Admin routes of API keys (scope admin): POST /v1/keys makes one and shows its token once,
// GET /v1/keys lists them (never a secret or its hash), DELETE /v1/keys/:id revokes one at once.
// The last admin key that is not revoked cannot be revoked: that would lock every admin out.
import type { FastifyInstance } from 'fastify';
import type { ZodTypeProvider } from 'fastify-type-provider-zod';
import { z } from 'zod';
import { generateApiKey } from '../auth/api-keys.js';
import { API_KEY_SCOPES } from '../auth/scopes.js';
import { HangarError } from '../errors/errors.js';
import type { ApiKeyRecord, ApiKeyScope } from '../store/store.js';
import type { ApiDependencies } from './dependencies.js';
import { errors, json } from './responses.js';

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
        response: { 201: json('The key and its token', createdApiKeySchema), ...errors({ body: true }) },
      },
    },
    async (request, reply) => {
      const made = generateApiKey();
      const key: ApiKeyRecord = {
        id: made.id,
        tenantId: 'default',
        name: request.body.name,
        secretHash: made.secretHash,
        scopes: [...new Set(request.body.scopes)],
        createdAt: new Date().toISOString(),
        revokedAt: null,
        lastUsedAt: null,
      };
      await store.apiKeys.insert(key);
      dependencies.logger.info({ keyId: key.id, scopes: key.scopes }, 'API key created');
      return reply.status(201).send({ key: present(key), token: made.token });
    },
  );

  routes.get(
    '/v1/keys',
    {
      schema: {
        operationId: 'listApiKeys',
        tags: ['keys'],
        description: 'Every API key, oldest first, revoked ones included; never a secret',
        querystring: z.object({}).strict(),
        response: { 200: json('The keys', z.object({ keys: z.array(apiKeyViewSchema) })), ...errors({ query: true }) },
      },
    },
    async () => ({ keys: (await store.apiKeys.list()).map(present) }),
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
          ...errors({ params: true, body: true }, { 404: 'No such key (API_KEY_NOT_FOUND)', 409: 'The last admin key cannot be revoked (CONFLICT)' }),
        },
      },
    },
    async (request) => {
      const { id } = request.params;
      const keys = await store.apiKeys.list();
      const key = keys.find((candidate) => candidate.id === id);
      if (key === undefined) throw new HangarError('API_KEY_NOT_FOUND', `API key ${id} does not exist`);
      const activeAdmins = keys.filter((candidate) => candidate.revokedAt === null && candidate.scopes.includes('admin'));
      if (key.revokedAt === null && key.scopes.includes('admin') && activeAdmins.length === 1) {
        throw new HangarError('CONFLICT', `API key ${id} is the last admin key; make another admin key first`);
      }
      const revoked = await store.apiKeys.revoke(id, new Date().toISOString());
      dependencies.logger.info({ keyId: id }, 'API key revoked');
      return present(revoked);
    },
  );
}
