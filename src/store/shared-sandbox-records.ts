// The Store port's shared sandboxes (pattern 4): sandboxes made on their own that several sessions run in.

/** A sandbox created on its own (pattern 4) and shared by several sessions. */
export interface SharedSandboxRecord {
  id: string;
  /** The tenant the sandbox belongs to: only its sessions may join it. */
  tenantId: string;
  status: 'active' | 'closed';
  resources: Record<string, unknown>;
  createdAt: string;
  closedAt: string | null;
}

export interface SharedSandboxRepository {
  /** Fails with CONFLICT when the id is taken. */
  insert(sandbox: SharedSandboxRecord): Promise<void>;
  /** Applies a patch; fails with SANDBOX_NOT_FOUND when absent. */
  update(id: string, patch: Partial<Pick<SharedSandboxRecord, 'status' | 'closedAt'>>): Promise<SharedSandboxRecord>;
  get(id: string): Promise<SharedSandboxRecord | undefined>;
  /** Oldest first, optionally only those in the given status and of the given tenant. */
  list(query?: { status?: SharedSandboxRecord['status']; tenantId?: string }): Promise<SharedSandboxRecord[]>;
}
