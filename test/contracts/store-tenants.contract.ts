// The Store port's tenant part, for every adapter (called from runStoreContract): tenants and their
// policies, each tenant's daily spend, and every list of tasks, sessions and shared sandboxes kept
// to one tenant when asked (paging cursors of another tenant included).
import { describe, expect, it } from 'vitest';
import type { Store, TenantRecord } from '../../src/store/store.js';
import { makeSession, makeTask } from './store.contract.js';

export interface TenantContractAccess {
  store(): Store;
  /** Reopens the same storage (durable adapters only). */
  reopen?: () => Promise<void>;
}

const tenant = (id: string, createdAt: string, policy: Record<string, unknown> = {}): TenantRecord => ({
  id,
  name: `Tenant ${id}`,
  policy,
  createdAt,
  updatedAt: createdAt,
});

export function tenantRepositoryContract(access: TenantContractAccess): void {
  describe('tenants', () => {
    it('stores tenants with their policy, lists them oldest first, replaces the policy, and refuses a taken id', async () => {
      const { tenants } = access.store();
      await tenants.insert(tenant('zeta', '2026-01-02T00:00:00.000Z', { maxTurns: 3, network: { presets: ['npm'] } }));
      await tenants.insert(tenant('acme', '2026-01-01T00:00:00.000Z'));
      await expect(tenants.insert(tenant('acme', '2026-01-03T00:00:00.000Z'))).rejects.toMatchObject({ code: 'CONFLICT' });
      expect((await tenants.list()).map((record) => record.id)).toEqual(['acme', 'zeta']);
      const updated = await tenants.update('zeta', { policy: { dailyBudgetUsd: 5 }, updatedAt: '2026-01-04T00:00:00.000Z' });
      expect(updated).toEqual({ ...tenant('zeta', '2026-01-02T00:00:00.000Z', { dailyBudgetUsd: 5 }), updatedAt: '2026-01-04T00:00:00.000Z' });
      expect(await tenants.get('zeta')).toEqual(updated);
      expect(await tenants.get('ghost')).toBeUndefined();
      await expect(tenants.update('ghost', { name: 'x' })).rejects.toMatchObject({ code: 'TENANT_NOT_FOUND' });
      if (access.reopen !== undefined) {
        await access.reopen();
        expect(await access.store().tenants.get('zeta')).toEqual(updated);
      }
    });

    it('adds up each tenant’s spend per day, apart from other tenants and days, also when the adds run at once', async () => {
      const { tenantUsage } = access.store();
      expect(await tenantUsage.get('acme', '2026-01-01')).toEqual({
        tenantId: 'acme',
        day: '2026-01-01',
        requests: 0,
        inputTokens: 0,
        outputTokens: 0,
        costUsd: 0,
      });
      const call = { requests: 1, inputTokens: 100, outputTokens: 10, costUsd: 0.25 };
      await Promise.all(Array.from({ length: 8 }, () => tenantUsage.add('acme', '2026-01-01', call)));
      await tenantUsage.add('acme', '2026-01-02', call);
      await tenantUsage.add('zeta', '2026-01-01', { ...call, costUsd: 1 });
      expect(await tenantUsage.get('acme', '2026-01-01')).toEqual({
        tenantId: 'acme',
        day: '2026-01-01',
        requests: 8,
        inputTokens: 800,
        outputTokens: 80,
        costUsd: 2,
      });
      expect((await tenantUsage.get('acme', '2026-01-02')).costUsd).toBe(0.25);
      expect((await tenantUsage.get('zeta', '2026-01-01')).costUsd).toBe(1);
      if (access.reopen !== undefined) {
        await access.reopen();
        expect((await access.store().tenantUsage.get('acme', '2026-01-01')).requests).toBe(8);
      }
    });

    it("keeps lists to one tenant when asked, and treats another tenant's paging cursor as unknown", async () => {
      const store = access.store();
      await store.tasks.insert(makeTask('t-a1', '2026-01-01T00:00:01.000Z', { tenantId: 'acme' }));
      await store.tasks.insert(makeTask('t-z1', '2026-01-01T00:00:02.000Z', { tenantId: 'zeta' }));
      await store.tasks.insert(makeTask('t-a2', '2026-01-01T00:00:03.000Z', { tenantId: 'acme' }));
      expect((await store.tasks.list({ tenantId: 'acme', limit: 10 })).map((task) => task.id)).toEqual(['t-a2', 't-a1']);
      expect((await store.tasks.list({ tenantId: 'acme', limit: 10, before: 't-a2' })).map((task) => task.id)).toEqual(['t-a1']);
      await expect(store.tasks.list({ tenantId: 'acme', limit: 10, before: 't-z1' })).rejects.toMatchObject({ code: 'TASK_NOT_FOUND' });
      expect((await store.tasks.list({ limit: 10 })).length).toBe(3);
      // A task's tenant never changes.
      expect((await store.tasks.update('t-a1', { tenantId: 'zeta', status: 'succeeded' })).tenantId).toBe('acme');

      await store.sessions.insert(makeSession('s-a', '2026-01-01T00:00:01.000Z', { tenantId: 'acme' }));
      await store.sessions.insert(makeSession('s-z', '2026-01-01T00:00:02.000Z', { tenantId: 'zeta' }));
      expect((await store.sessions.list({ tenantId: 'zeta', limit: 10 })).map((session) => session.id)).toEqual(['s-z']);
      await expect(store.sessions.list({ tenantId: 'acme', limit: 10, before: 's-z' })).rejects.toMatchObject({ code: 'SESSION_NOT_FOUND' });
      expect((await store.sessions.get('s-z'))?.tenantId).toBe('zeta');
      // Open sessions are counted per tenant; a closed one no longer counts.
      await store.sessions.insert(makeSession('s-a2', '2026-01-01T00:00:03.000Z', { tenantId: 'acme', status: 'hibernated' }));
      expect(await store.sessions.countOpen('acme')).toBe(2);
      await store.sessions.update('s-a', { status: 'closed' });
      expect([await store.sessions.countOpen('acme'), await store.sessions.countOpen('zeta'), await store.sessions.countOpen('nobody')]).toEqual([1, 1, 0]);

      const sandbox = (id: string, tenantId: string) => ({
        id,
        tenantId,
        status: 'active' as const,
        resources: {},
        createdAt: '2026-01-01T00:00:00.000Z',
        closedAt: null,
      });
      await store.sharedSandboxes.insert(sandbox('sbx-a', 'acme'));
      await store.sharedSandboxes.insert(sandbox('sbx-z', 'zeta'));
      expect((await store.sharedSandboxes.list({ tenantId: 'zeta' })).map((record) => record.id)).toEqual(['sbx-z']);
      expect((await store.sharedSandboxes.list({ tenantId: 'zeta', status: 'closed' })).map((record) => record.id)).toEqual([]);
      expect((await store.sharedSandboxes.get('sbx-a'))?.tenantId).toBe('acme');
    });
  });
}
