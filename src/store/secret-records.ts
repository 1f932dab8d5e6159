// The Store port's secrets part: values a task or session (and, next, a tenant) declares for the
// egress proxy to put into its requests. The store holds each value only sealed (AES-256-GCM,
// egress/secret-sealing.ts), never in clear; a task's and a session's secrets go with it.

/** Who a stored secret belongs to. */
export type SecretOwnerKind = 'task' | 'session' | 'tenant';

export interface SecretOwner {
  kind: SecretOwnerKind;
  id: string;
}

export interface SealedSecretRecord {
  owner: SecretOwner;
  /** The environment variable the sandbox sees the secret's placeholder in. */
  name: string;
  /** The sealed value: it opens only with the key that sealed it, for this owner and name. */
  sealed: Uint8Array;
  createdAt: string;
}

export interface SecretRepository {
  /** Stores the secrets in one transaction, each replacing the one of its owner and name. */
  put(secrets: readonly SealedSecretRecord[]): Promise<void>;
  /** The owner's secrets, by name. */
  list(owner: SecretOwner): Promise<SealedSecretRecord[]>;
  /** Ids of the owners of this kind that have secrets, sorted. */
  owners(kind: SecretOwnerKind): Promise<string[]>;
  /** Deletes the owner's secrets; resolves with how many there were. */
  deleteOwner(owner: SecretOwner): Promise<number>;
}
