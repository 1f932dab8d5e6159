// A tenant's own secrets through the client (the tenant's admin key, or the operator's): set one
// (its value goes to the server only, which never shows it again), list them without values,
// delete one. Functions of a HangarClient, beside its own methods.
import type { TenantSecretView } from '../api/tenant-secret-routes.js';
import type { HangarClient } from './hangar-client.js';

export type { TenantSecretView } from '../api/tenant-secret-routes.js';

/** A tenant secret to set: its value, the host rules it may be sent to, and how the proxy puts it in (default placeholder). */
export interface TenantSecretInput {
  value: string;
  hosts: string[];
  inject?: 'placeholder' | { header: string; template?: string };
}

const secretsPath = (tenantId: string): string => `/v1/tenants/${encodeURIComponent(tenantId)}/secrets`;

/** Sets (or replaces) the tenant's secret `name`; resolves with it, without its value. */
export function setTenantSecret(client: HangarClient, tenantId: string, name: string, secret: TenantSecretInput): Promise<TenantSecretView> {
  return client.call('PUT', `${secretsPath(tenantId)}/${encodeURIComponent(name)}`, secret);
}

/** The tenant's secrets by name: hosts, injection and times, never a value. */
export async function listTenantSecrets(client: HangarClient, tenantId: string): Promise<TenantSecretView[]> {
  return (await client.call<{ secrets: TenantSecretView[] }>('GET', secretsPath(tenantId))).secrets;
}

/** Deletes the tenant's secret `name` (404 SECRET_NOT_FOUND when it has none). */
export function deleteTenantSecret(client: HangarClient, tenantId: string, name: string): Promise<void> {
  return client.call('DELETE', `${secretsPath(tenantId)}/${encodeURIComponent(name)}`);
}
