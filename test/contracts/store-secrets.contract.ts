// The Store port's secrets, for every adapter (called from runStoreContract): sealed values by
// owner and name (with where a tenant's may go), replaced in place keeping when they were made,
// listed, owners by kind, deleted one by one or with their owner, durable.
import { describe, expect, it } from 'vitest';
import type { SealedSecretRecord, SecretOwner, Store } from '../../src/store/store.js';

export interface SecretContractAccess {
  store(): Store;
  /** Reopens the same storage (durable adapters only). */
  reopen?: () => Promise<void>;
}

const task: SecretOwner = { kind: 'task', id: 'task_1' };
const session: SecretOwner = { kind: 'session', id: 'sess_1' };
const tenant: SecretOwner = { kind: 'tenant', id: 'acme' };

const secret = (owner: SecretOwner, name: string, bytes: number[], createdAt = '2026-01-01T00:00:00.000Z'): SealedSecretRecord => ({
  owner,
  name,
  sealed: new Uint8Array(bytes),
  createdAt,
  updatedAt: createdAt,
});

export function secretRepositoryContract(access: SecretContractAccess): void {
  describe('secrets', () => {
    it('stores sealed bytes by owner and name, lists an owner by name, and keeps owners apart', async () => {
      const { secrets } = access.store();
      await secrets.put([secret(session, 'ZED', [0, 255, 1]), secret(session, 'ALPHA', [9, 0, 0, 7]), secret(task, 'ALPHA', [1])]);
      await secrets.put([secret(tenant, 'ALPHA', [2])]);
      expect(await secrets.list(session)).toEqual([secret(session, 'ALPHA', [9, 0, 0, 7]), secret(session, 'ZED', [0, 255, 1])]);
      expect(await secrets.list(task)).toEqual([secret(task, 'ALPHA', [1])]);
      expect(await secrets.list(tenant)).toEqual([secret(tenant, 'ALPHA', [2])]);
      // Same id, another kind: another owner.
      expect(await secrets.list({ kind: 'task', id: 'sess_1' })).toEqual([]);
      expect(await secrets.owners('session')).toEqual(['sess_1']);
      expect(await secrets.owners('task')).toEqual(['task_1']);
      await secrets.put([]);
    });

    it('replaces the secret of the same owner and name (keeping when it was made), and hands out copies', async () => {
      const { secrets } = access.store();
      await secrets.put([secret(session, 'TOKEN', [1, 2, 3])]);
      await secrets.put([secret(session, 'TOKEN', [4, 5], '2026-01-02T00:00:00.000Z')]);
      const [stored] = await secrets.list(session);
      expect(stored).toEqual({ ...secret(session, 'TOKEN', [4, 5]), updatedAt: '2026-01-02T00:00:00.000Z' });
      stored!.sealed[0] = 99;
      expect((await secrets.list(session))[0]!.sealed).toEqual(new Uint8Array([4, 5]));
    });

    it("keeps where a tenant's secret may go, replaced with it", async () => {
      const { secrets } = access.store();
      const use = { hosts: ['api.example.com', '*.example.org:8443'], inject: { header: 'X-Api-Key', template: 'Key {value}' } };
      await secrets.put([{ ...secret(tenant, 'KEY', [1]), use }]);
      expect(await secrets.list(tenant)).toEqual([{ ...secret(tenant, 'KEY', [1]), use }]);
      await secrets.put([{ ...secret(tenant, 'KEY', [2], '2026-01-03T00:00:00.000Z'), use: { hosts: ['a.test'] } }]);
      expect(await secrets.list(tenant)).toEqual([{ ...secret(tenant, 'KEY', [2]), updatedAt: '2026-01-03T00:00:00.000Z', use: { hosts: ['a.test'] } }]);
    });

    it('deletes one secret of an owner, and only that one', async () => {
      const { secrets } = access.store();
      await secrets.put([secret(tenant, 'A', [1]), secret(tenant, 'B', [2]), secret({ kind: 'tenant', id: 'zeta' }, 'A', [3])]);
      expect(await secrets.delete(tenant, 'A')).toBe(true);
      expect(await secrets.delete(tenant, 'A')).toBe(false);
      expect(await secrets.list(tenant)).toEqual([secret(tenant, 'B', [2])]);
      expect(await secrets.list({ kind: 'tenant', id: 'zeta' })).toEqual([secret({ kind: 'tenant', id: 'zeta' }, 'A', [3])]);
      expect(await secrets.delete(tenant, 'B')).toBe(true);
      expect(await secrets.owners('tenant')).toEqual(['zeta']);
    });

    it('deletes an owner with all its secrets, and only that owner', async () => {
      const { secrets } = access.store();
      await secrets.put([secret(session, 'A', [1]), secret(session, 'B', [2]), secret({ kind: 'session', id: 'sess_2' }, 'A', [3])]);
      expect(await secrets.deleteOwner(session)).toBe(2);
      expect(await secrets.deleteOwner(session)).toBe(0);
      expect(await secrets.list(session)).toEqual([]);
      expect(await secrets.owners('session')).toEqual(['sess_2']);
    });

    const reopen = access.reopen;
    if (reopen !== undefined) {
      it('keeps secrets after a reopen', async () => {
        await access.store().secrets.put([secret(session, 'TOKEN', [7, 0, 7])]);
        await reopen();
        expect(await access.store().secrets.list(session)).toEqual([secret(session, 'TOKEN', [7, 0, 7])]);
      });
    }
  });
}
