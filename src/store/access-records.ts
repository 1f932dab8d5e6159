// The Store port's records of who may do what and what was done on the network: API keys (their
// secrets as hashes only) and the egress proxy's decisions per task or session.

/** One decision of the egress proxy for a task or session (its owner), numbered per owner from 1. */
export interface EgressLogEntry {
  seq: number;
  at: string;
  /** `CONNECT` for a tunnel, else the HTTP method of a plain or intercepted request. */
  method: string;
  host: string;
  port: number;
  verdict: 'allowed' | 'denied';
  reason: string;
  address: string | null;
  bytesOut: number;
  bytesIn: number;
  durationMs: number;
}

export interface EgressLogRepository {
  /** Appends entries (numbered in order) and keeps only the owner's newest `keep`. */
  append(ownerId: string, entries: ReadonlyArray<Omit<EgressLogEntry, 'seq'>>, keep: number): Promise<void>;
  /** The owner's entries with seq > after, oldest first, at most limit. */
  list(ownerId: string, query: { after?: number; limit: number }): Promise<EgressLogEntry[]>;
  deleteOwner(ownerId: string): Promise<void>;
}

/** What an API key may do: read (GET), run (create and act on tasks, sessions, sandboxes), admin (manage keys; implies the others). */
export type ApiKeyScope = 'admin' | 'run' | 'read';

/** An API key as stored: its secret only as a SHA-256 hash. */
export interface ApiKeyRecord {
  id: string;
  tenantId: string;
  name: string;
  secretHash: string;
  scopes: ApiKeyScope[];
  createdAt: string;
  revokedAt: string | null;
  lastUsedAt: string | null;
}

export interface ApiKeyRepository {
  /** Fails with CONFLICT when the id is taken. */
  insert(key: ApiKeyRecord): Promise<void>;
  get(id: string): Promise<ApiKeyRecord | undefined>;
  /** Every key, oldest first (revoked ones too). */
  list(): Promise<ApiKeyRecord[]>;
  /** Marks the key revoked (a no-op when it already is); fails with API_KEY_NOT_FOUND when absent. */
  revoke(id: string, at: string): Promise<ApiKeyRecord>;
  /** Records when the key was last used. */
  touch(id: string, at: string): Promise<void>;
}
