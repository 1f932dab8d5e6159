// What each API key scope allows: `read` every GET; `run` also creating and acting on tasks,
// sessions and sandboxes; `admin` also managing API keys (and everything else). Pure.
import type { ApiKeyScope } from '../store/store.js';

export const API_KEY_SCOPES: readonly ApiKeyScope[] = ['admin', 'run', 'read'];

/** The scope a request needs: admin for /v1/keys, read for GET and HEAD, run otherwise. */
export function requiredScope(method: string, path: string): ApiKeyScope {
  if (path === '/v1/keys' || path.startsWith('/v1/keys/')) return 'admin';
  return method === 'GET' || method === 'HEAD' ? 'read' : 'run';
}

/** True when a key with `scopes` may do what needs `needed`. */
export function allows(scopes: readonly ApiKeyScope[], needed: ApiKeyScope): boolean {
  if (scopes.includes('admin')) return true;
  if (needed === 'read') return scopes.includes('read') || scopes.includes('run');
  return scopes.includes(needed);
}
