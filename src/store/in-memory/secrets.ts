// Secrets of the in-memory store: sealed values by owner and name, copied on the way in and out.
import type { SealedSecretRecord, SecretOwner, SecretRepository } from '../store.js';

const keyOf = (owner: SecretOwner): string => `${owner.kind}\0${owner.id}`;

const copySecret = (secret: SealedSecretRecord): SealedSecretRecord => ({
  owner: { kind: secret.owner.kind, id: secret.owner.id },
  name: secret.name,
  sealed: new Uint8Array(secret.sealed),
  ...(secret.use !== undefined ? { use: structuredClone(secret.use) } : {}),
  createdAt: secret.createdAt,
  updatedAt: secret.updatedAt,
});

/** The repository, and clear() for the store's close(). */
export function createInMemorySecretRepository(): SecretRepository & { clear(): void } {
  /** Owner key -> name -> secret. */
  const byOwner = new Map<string, Map<string, SealedSecretRecord>>();
  return {
    async put(secrets) {
      for (const secret of secrets) {
        const owned = byOwner.get(keyOf(secret.owner)) ?? new Map<string, SealedSecretRecord>();
        const replaced = owned.get(secret.name);
        owned.set(secret.name, { ...copySecret(secret), createdAt: replaced?.createdAt ?? secret.createdAt });
        byOwner.set(keyOf(secret.owner), owned);
      }
    },
    async list(owner) {
      return [...(byOwner.get(keyOf(owner))?.values() ?? [])].sort((a, b) => (a.name < b.name ? -1 : a.name > b.name ? 1 : 0)).map(copySecret);
    },
    async owners(kind) {
      const ids = [...byOwner.values()].flatMap((owned) => [...owned.values()].slice(0, 1)).filter((secret) => secret.owner.kind === kind);
      return ids.map((secret) => secret.owner.id).sort();
    },
    async delete(owner, name) {
      const owned = byOwner.get(keyOf(owner));
      const deleted = owned?.delete(name) ?? false;
      if (owned !== undefined && owned.size === 0) byOwner.delete(keyOf(owner));
      return deleted;
    },
    async deleteOwner(owner) {
      const count = byOwner.get(keyOf(owner))?.size ?? 0;
      byOwner.delete(keyOf(owner));
      return count;
    },
    clear() {
      byOwner.clear();
    },
  };
}
