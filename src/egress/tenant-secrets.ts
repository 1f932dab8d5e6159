// Secrets a tenant keeps for its tasks and sessions (PUT /v1/tenants/:id/secrets/:name): each is
// stored sealed under the tenant (owner { kind: 'tenant' }) with the hosts it may be sent to and how
// it is put in, which are sealed into the value's binding (secret-sealing.ts), so a stored row given
// other hosts does not open. A task or session names one in network.secrets as it names a
// configured secret; its sandbox gets the value as it is when the sandbox is set up, so a secret
// replaced or deleted later changes only sandboxes set up later. Values leave this module only
// opened for the egress proxy (sandbox-egress.ts), never in a listing.
import { HangarError } from '../errors/errors.js';
import type { SecretOwner, SecretRepository, StoredSecretUse } from '../store/store.js';
import type { SecretDeclaration } from './declared-secrets.js';
import type { SecretSealer } from './secret-sealing.js';
import type { EgressSecret, SecretInjection } from './secrets.js';

/** Most secrets one tenant keeps. */
export const MAX_TENANT_SECRETS = 100;

/** A tenant's secret as the API shows it: everything but the value. */
export interface TenantSecretInfo {
  name: string;
  hosts: string[];
  inject: SecretInjection;
  createdAt: string;
  updatedAt: string;
}

export interface TenantSecrets {
  /** Seals and stores the secret (replacing the tenant's one of that name); CONFLICT beyond MAX_TENANT_SECRETS. */
  set(tenantId: string, secret: SecretDeclaration): Promise<TenantSecretInfo>;
  /** The tenant's secrets by name, without values. */
  list(tenantId: string): Promise<TenantSecretInfo[]>;
  /** Deletes the secret; SECRET_NOT_FOUND when the tenant has none of that name. */
  delete(tenantId: string, name: string): Promise<void>;
  /** The names of the tenant's secrets. */
  names(tenantId: string): Promise<string[]>;
  /** The tenant's secrets among `names`, opened, by name (names it has none of are left out). */
  open(tenantId: string, names: readonly string[]): Promise<Map<string, EgressSecret>>;
}

const ownerOf = (tenantId: string): SecretOwner => ({ kind: 'tenant', id: tenantId });

/** The use in one fixed form: what the sealed value is bound to. */
function boundText(use: StoredSecretUse): string {
  const inject = use.inject ?? 'placeholder';
  return JSON.stringify([use.hosts, inject === 'placeholder' ? inject : [inject.header, inject.template ?? null]]);
}

function infoOf(secret: { name: string; use?: StoredSecretUse; createdAt: string; updatedAt: string }): TenantSecretInfo {
  return {
    name: secret.name,
    hosts: [...(secret.use?.hosts ?? [])],
    inject: secret.use?.inject ?? 'placeholder',
    createdAt: secret.createdAt,
    updatedAt: secret.updatedAt,
  };
}

export function createTenantSecrets(settings: { secrets: SecretRepository; sealer: SecretSealer; now?: () => string }): TenantSecrets {
  const { secrets, sealer } = settings;
  const now = settings.now ?? (() => new Date().toISOString());
  return {
    async set(tenantId, secret) {
      const owner = ownerOf(tenantId);
      const stored = await secrets.list(owner);
      if (stored.length >= MAX_TENANT_SECRETS && !stored.some((existing) => existing.name === secret.name)) {
        throw new HangarError('CONFLICT', `tenant ${tenantId} keeps ${MAX_TENANT_SECRETS} secrets, the most it may: delete one first`);
      }
      const use: StoredSecretUse = { hosts: [...secret.hosts], ...(secret.inject !== undefined ? { inject: secret.inject } : {}) };
      const at = now();
      await secrets.put([
        { owner, name: secret.name, sealed: sealer.seal(owner, secret.name, secret.value, boundText(use)), use, createdAt: at, updatedAt: at },
      ]);
      const [kept] = (await secrets.list(owner)).filter((existing) => existing.name === secret.name);
      return infoOf(kept ?? { name: secret.name, use, createdAt: at, updatedAt: at });
    },
    async list(tenantId) {
      return (await secrets.list(ownerOf(tenantId))).map(infoOf);
    },
    async delete(tenantId, name) {
      if (!(await secrets.delete(ownerOf(tenantId), name))) throw new HangarError('SECRET_NOT_FOUND', `tenant ${tenantId} has no secret ${name}`);
    },
    async names(tenantId) {
      return (await secrets.list(ownerOf(tenantId))).map((secret) => secret.name);
    },
    async open(tenantId, names) {
      const owner = ownerOf(tenantId);
      const wanted = new Set(names);
      const opened = new Map<string, EgressSecret>();
      if (wanted.size === 0) return opened;
      for (const secret of await secrets.list(owner)) {
        if (!wanted.has(secret.name)) continue;
        if (secret.use === undefined) throw new HangarError('INTERNAL', `secret ${secret.name} of tenant ${tenantId} is stored without its hosts`);
        opened.set(secret.name, {
          name: secret.name,
          value: sealer.open(owner, secret.name, secret.sealed, boundText(secret.use)),
          hosts: secret.use.hosts,
          ...(secret.use.inject !== undefined ? { inject: secret.use.inject } : {}),
        });
      }
      return opened;
    },
  };
}
