// In-memory API keys and egress log.
import { HangarError } from '../../errors/errors.js';
import type { ApiKeyRecord, ApiKeyRepository, EgressLogEntry, EgressLogRepository } from '../store.js';
import { copy, oldestFirst } from './record-helpers.js';

export function createInMemoryAccess(): { egress: EgressLogRepository; apiKeys: ApiKeyRepository; clear(): void } {
  const egress = new Map<string, EgressLogEntry[]>();
  const egressSeqs = new Map<string, number>();
  const apiKeys = new Map<string, ApiKeyRecord>();
  return {
    egress: {
      async append(ownerId, entries, keep) {
        let seq = egressSeqs.get(ownerId) ?? 0;
        const log = [...(egress.get(ownerId) ?? []), ...entries.map((entry) => ({ ...copy(entry), seq: ++seq }))];
        egressSeqs.set(ownerId, seq);
        egress.set(
          ownerId,
          log.filter((entry) => entry.seq > seq - keep),
        );
      },
      async list(ownerId, query) {
        return (egress.get(ownerId) ?? [])
          .filter((entry) => entry.seq > (query.after ?? 0))
          .slice(0, query.limit)
          .map(copy);
      },
      async deleteOwner(ownerId) {
        egress.delete(ownerId);
        egressSeqs.delete(ownerId);
      },
    },

    apiKeys: {
      async insert(key) {
        if (apiKeys.has(key.id)) throw new HangarError('CONFLICT', `API key ${key.id} already exists`);
        apiKeys.set(key.id, copy(key));
      },
      async get(id) {
        const key = apiKeys.get(id);
        return key === undefined ? undefined : copy(key);
      },
      async list() {
        return [...apiKeys.values()].sort(oldestFirst).map(copy);
      },
      async revoke(id, at) {
        const key = apiKeys.get(id);
        if (key === undefined) throw new HangarError('API_KEY_NOT_FOUND', `API key ${id} does not exist`);
        if (key.revokedAt === null) key.revokedAt = at;
        return copy(key);
      },
      async touch(id, at) {
        const key = apiKeys.get(id);
        if (key !== undefined) key.lastUsedAt = at;
      },
    },
    clear() {
      egress.clear();
      egressSeqs.clear();
      apiKeys.clear();
    },
  };
}
