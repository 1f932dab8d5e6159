// What each API key scope allows: `read` every GET; `run` also creating and acting on tasks,
// sessions and sandboxes; `admin` also managing API keys (and everything else). Pure.
import type { ApiKeyScope } from '../store/store.js';

export const API_KEY_SCOPES: readonly ApiKeyScope[] = ['admin', 'run', 'read'];

/** Route prefixes only admin keys reach: API keys and tenants. */
const ADMIN_PREFIXES = ['/v1/keys', '/v1/tenants'];

/** The scope a request needs: admin for /v1/keys and /v1/tenants, read for GET and HEAD, run otherwise. */
export function requiredScope(method: string, path: string): ApiKeyScope {
  if (ADMIN_PREFIXES.some((prefix) => path === prefix || path.startsWith(`${prefix}/`))) return 'admin';
  return method === 'GET' || method === 'HEAD' ? 'read' : 'run';
}

/** True when a key with `scopes` may do what needs `needed`. */
export function allows(scopes: readonly ApiKeyScope[], needed: ApiKeyScope): boolean {
  if (scopes.includes('admin')) return true;
  if (needed === 'read') return scopes.includes('read') || scopes.includes('run');
  return scopes.includes(needed);
}
