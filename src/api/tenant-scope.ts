// Who each request acts for, and what of theirs it may touch. Every /v1 request has a caller (its
// API key's tenant and scopes; with auth.mode none, the operator). A route naming a task, session or
// shared sandbox by id is guarded before its handler: another tenant's resource answers 404, exactly
// as one that does not exist (never 403: a tenant learns nothing of another's ids). Lists show the
// caller's own. New tasks, sessions and sandboxes get the caller's tenant and pass its policy first;
// the secrets they name must be the tenant's or configured ones.
import type { FastifyInstance, FastifyRequest } from 'fastify';
import type { Caller } from '../auth/authenticator.js';
import { HangarError } from '../errors/errors.js';
import { unknownSecretsError, type AgentOptions } from '../runner/agent-options.js';
import { DEFAULT_TENANT_ID, type TenantRecord } from '../store/store.js';
import { applyTenantPolicy, mayUseConfiguredSecret } from '../tenants/policy-check.js';
import type { ApiDependencies } from './dependencies.js';

declare module 'fastify' {
  interface FastifyRequest {
    /** Set for every /v1 request: by the authentication hook (the key's), or the operator with auth.mode none. */
    caller?: Caller;
  }
}

/** The caller of a request made without API keys (auth.mode none, loopback only): the operator. */
export const LOCAL_OPERATOR: Caller = { keyId: 'local', tenantId: DEFAULT_TENANT_ID, scopes: ['admin'] };

/** The request's caller; a request nobody vouched for is refused, never taken for the operator (fails closed). */
export function callerOf(request: FastifyRequest): Caller {
  if (request.caller === undefined) throw new HangarError('UNAUTHORIZED', 'this request was not authenticated: send Authorization: Bearer <key>');
  return request.caller;
}

/** The operator: an admin key of the default tenant. Only it manages tenants and other tenants' keys. */
export const isOperator = (caller: Caller): boolean => caller.tenantId === DEFAULT_TENANT_ID && caller.scopes.includes('admin');

/** The tenant `id` when the caller may see it (its own; any for the operator); another answers TENANT_NOT_FOUND, as one that does not exist. */
export async function visibleTenant(dependencies: ApiDependencies, request: FastifyRequest, id: string): Promise<TenantRecord> {
  const caller = callerOf(request);
  if (!isOperator(caller) && caller.tenantId !== id) throw new HangarError('TENANT_NOT_FOUND', `tenant ${id} does not exist`);
  if (dependencies.tenants === undefined) throw new HangarError('NOT_FOUND', 'tenants are not enabled on this server');
  return dependencies.tenants.get(id);
}

/** What a guarded route's `:id` names, by the start of its route pattern. */
const GUARDED_PREFIXES: ReadonlyArray<{ prefix: string; kind: 'task' | 'session' | 'sandbox' }> = [
  { prefix: '/v1/tasks/:id', kind: 'task' },
  { prefix: '/v1/sessions/:id', kind: 'session' },
  { prefix: '/v1/sandboxes/:id', kind: 'sandbox' },
];

/** The tenant owning the resource, or undefined when there is none by that id. */
async function ownerOf(dependencies: ApiDependencies, kind: 'task' | 'session' | 'sandbox', id: string): Promise<string | undefined> {
  const { store } = dependencies;
  if (kind === 'task') return (await store.tasks.get(id))?.tenantId;
  if (kind === 'session') return (await store.sessions.get(id))?.tenantId;
  return (await store.sharedSandboxes.get(id))?.tenantId;
}

const NOT_FOUND = {
  task: (id: string) => new HangarError('TASK_NOT_FOUND', `task ${id} does not exist`),
  session: (id: string) => new HangarError('SESSION_NOT_FOUND', `session ${id} does not exist`),
  sandbox: (id: string) => new HangarError('SANDBOX_NOT_FOUND', `sandbox ${id} does not exist`),
};

/** Refuses, with the resource's 404, every request whose route names another tenant's task, session or sandbox. */
export function registerTenantGuard(app: FastifyInstance, dependencies: ApiDependencies): void {
  app.addHook('preHandler', async (request) => {
    const pattern = request.routeOptions.url ?? '';
    const guarded = GUARDED_PREFIXES.find(({ prefix }) => pattern === prefix || pattern.startsWith(`${prefix}/`));
    if (guarded === undefined) return;
    const id = (request.params as { id?: unknown }).id;
    if (typeof id !== 'string') return;
    const owner = await ownerOf(dependencies, guarded.kind, id);
    if (owner !== undefined && owner !== callerOf(request).tenantId) throw NOT_FOUND[guarded.kind](id);
  });
}

/**
 * A new task's or session's options under the caller's tenant policy (defaults filled in, 403 beyond
 * it), with its tenant; 400 when it names a secret that is neither the tenant's nor configured.
 */
export async function scopedToCaller<T extends AgentOptions>(
  dependencies: ApiDependencies,
  request: FastifyRequest,
  input: T,
): Promise<T & { tenantId: string }> {
  const { tenantId } = callerOf(request);
  const isDefaultTenant = tenantId === DEFAULT_TENANT_ID;
  const policy = dependencies.tenants === undefined ? undefined : await dependencies.tenants.policyOf(tenantId);
  const secretNames = input.network?.secrets === undefined ? [] : ((await dependencies.tenantSecrets?.names(tenantId)) ?? []);
  // Configured secrets the tenant may not use are unknown to it: the answer is the same whether the name exists or not.
  const configured = Object.keys(dependencies.config.egress.secrets).filter(
    (name) => policy === undefined || mayUseConfiguredSecret({ policy, isDefaultTenant }, name),
  );
  const unknown = unknownSecretsError(input.network, { configured, tenantId, tenantSecrets: secretNames });
  if (unknown !== undefined) throw unknown;
  if (policy === undefined) return { ...input, tenantId };
  const checked = applyTenantPolicy({ id: tenantId, policy, isDefaultTenant, secretNames }, input, dependencies.config);
  return { ...checked, tenantId };
}
