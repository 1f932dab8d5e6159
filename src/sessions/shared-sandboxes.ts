// Shared sandboxes (pattern 4): one sandbox several sessions run in. Created on their own, closed
// with their sessions (or when the last one closes), and brought back after a restart under the
// same id with the workspace of the newest checkpoint of their sessions.
import type { ResourceLimits } from '../config/config.js';
import { HangarError } from '../errors/errors.js';
import { newRecordId } from '../ids.js';
import type { Sandbox } from '../sandbox/sandbox-provider.js';
import { DEFAULT_TENANT_ID, type CheckpointRecord, type SharedSandboxRecord } from '../store/store.js';
import type { CheckpointKeeper } from './checkpoint-keeper.js';
import { agentSandboxSpec, resolveResources } from './resources.js';
import type { SessionContext } from './session-context.js';

export type SharedSandboxView = SharedSandboxRecord & { sessions: string[] };

export interface SharedSandboxes {
  create(input: { resources?: Partial<ResourceLimits>; tenantId?: string }): Promise<SharedSandboxView>;
  get(id: string): Promise<SharedSandboxView>;
  list(query?: { status?: SharedSandboxRecord['status']; tenantId?: string }): Promise<SharedSandboxView[]>;
  /** Closes the sandbox and every session in it. */
  close(id: string): Promise<SharedSandboxRecord>;
  closeIfEmpty(id: string): Promise<void>;
  /** The record, or SANDBOX_NOT_FOUND. */
  requireRecord(id: string): Promise<SharedSandboxRecord>;
  /** Recreates every active shared sandbox after a restart. */
  restoreAll(): Promise<void>;
  /** Destroys every shared sandbox this process holds (their records stay active). */
  destroyAll(): Promise<void>;
}

export function createSharedSandboxes(
  context: SessionContext,
  keeper: CheckpointKeeper,
  closeSession: (sessionId: string) => Promise<unknown>,
): SharedSandboxes {
  const { config, store, gateway, logger, sharedSandboxes } = context;
  const specFor = (resources: ResourceLimits, id: string) =>
    agentSandboxSpec(config, { gateway, claudeExecutable: context.claudeExecutable, egress: context.egress }, resources, id);

  const view = async (record: SharedSandboxRecord): Promise<SharedSandboxView> => {
    const members = await store.sessions.list({ sandboxId: record.id, limit: 10_000 });
    return { ...record, sessions: members.filter((session) => session.status !== 'closed').map((session) => session.id) };
  };

  const requireRecord = async (id: string): Promise<SharedSandboxRecord> => {
    const record = await store.sharedSandboxes.get(id);
    if (record === undefined) throw new HangarError('SANDBOX_NOT_FOUND', `sandbox ${id} does not exist`);
    return record;
  };

  /** Recreates a shared sandbox after a restart from the newest checkpoint of its sessions. */
  const restore = async (record: SharedSandboxRecord): Promise<void> => {
    const members = (await store.sessions.list({ sandboxId: record.id, limit: 10_000 })).filter((session) => session.status !== 'closed');
    let newest: CheckpointRecord | undefined;
    for (const member of members) {
      const checkpoint = member.lastCheckpointId === null ? undefined : await store.checkpoints.get(member.lastCheckpointId);
      if (checkpoint !== undefined && (newest === undefined || checkpoint.createdAt > newest.createdAt)) newest = checkpoint;
    }
    let sandbox: Sandbox | undefined;
    try {
      // Counted against its tenant, never refused by the tenant's ceiling: it was admitted before the restart.
      sandbox = await context.sandboxProvider.create(specFor(record.resources as unknown as ResourceLimits, record.id), { tenantId: record.tenantId });
      if (newest !== undefined) await keeper.restore(sandbox, newest);
      sharedSandboxes.set(record.id, { record, sandbox, members: new Set() });
      for (const member of members) await context.publish(member.id, 'sandbox_restored', { sandboxId: record.id, fromCheckpointId: newest?.id ?? null });
    } catch (error) {
      logger.error({ err: error, sandboxId: record.id }, 'shared sandbox could not be restored');
      await sandbox?.destroy().catch(() => undefined);
      await store.sharedSandboxes.update(record.id, { status: 'closed', closedAt: context.nowIso() });
      for (const member of members) {
        // A checkpoint that fails its manifest keeps its own code (it names the checkpoint).
        const code = error instanceof HangarError && error.code === 'CHECKPOINT_CORRUPT' ? error.code : 'SANDBOX_FAILED';
        await store.sessions.update(member.id, {
          status: 'failed',
          error: { code, message: `shared sandbox ${record.id} could not be restored: ${(error as Error).message}` },
        });
      }
    }
  };

  const shared: SharedSandboxes = {
    async create(input) {
      const resources = resolveResources(config, input.resources);
      const id = newRecordId('sbx');
      const tenantId = input.tenantId ?? DEFAULT_TENANT_ID;
      const sandbox = await context.sandboxProvider.create(specFor(resources, id), await context.tenantShare(tenantId));
      const record: SharedSandboxRecord = {
        id,
        tenantId,
        status: 'active',
        resources: resources as unknown as Record<string, unknown>,
        createdAt: context.nowIso(),
        closedAt: null,
      };
      await store.sharedSandboxes.insert(record);
      sharedSandboxes.set(id, { record, sandbox, members: new Set() });
      return { ...record, sessions: [] };
    },
    async get(id) {
      return view(await requireRecord(id));
    },
    async list(query = {}) {
      return Promise.all((await store.sharedSandboxes.list(query)).map(view));
    },
    async close(id) {
      const record = await requireRecord(id);
      if (record.status === 'closed') return record;
      const current = await view(record);
      const updated = await store.sharedSandboxes.update(id, { status: 'closed', closedAt: context.nowIso() });
      for (const sessionId of current.sessions) await closeSession(sessionId);
      const live = sharedSandboxes.get(id);
      sharedSandboxes.delete(id);
      await live?.sandbox.destroy();
      return updated;
    },
    async closeIfEmpty(id) {
      const current = await view(await requireRecord(id));
      if (current.sessions.length === 0 && current.status === 'active') await shared.close(id);
    },
    requireRecord,
    async restoreAll() {
      for (const record of await store.sharedSandboxes.list({ status: 'active' })) await restore(record);
    },
    async destroyAll() {
      for (const live of sharedSandboxes.values()) await live.sandbox.destroy().catch(() => undefined);
      sharedSandboxes.clear();
    },
  };
  return shared;
}
