// The Store port's secrets part: values a task, session or tenant declares for the egress proxy to
// put into its requests. The store holds each value only sealed (AES-256-GCM,
// egress/secret-sealing.ts), never in clear; a task's and a session's secrets go with it.

/** Who a stored secret belongs to. */
export type SecretOwnerKind = 'task' | 'session' | 'tenant';

export interface SecretOwner {
  kind: SecretOwnerKind;
  id: string;
}

/**
 * Where a stored secret's value may be sent and how the proxy puts it in, kept beside the sealed
 * value for an owner whose record does not keep the declaration (a tenant). Not secret: the API shows it.
 */
export interface StoredSecretUse {
  /** Host rules of the hosts the value may be sent to. */
  hosts: string[];
  inject?: 'placeholder' | { header: string; template?: string };
}

export interface SealedSecretRecord {
  owner: SecretOwner;
  /** The environment variable the sandbox sees the secret's placeholder in. */
  name: string;
  /** The sealed value: it opens only with the key that sealed it, for this owner and name. */
  sealed: Uint8Array;
  /** Where the value may go (a tenant's secret); absent for a task's or session's, whose record says. */
  use?: StoredSecretUse;
  /** When the owner first stored a secret of this name: kept when the secret is replaced. */
  createdAt: string;
  /** When the secret was last stored. */
  updatedAt: string;
}

export interface SecretRepository {
  /** Stores the secrets in one transaction, each replacing the one of its owner and name (whose createdAt it keeps). */
  put(secrets: readonly SealedSecretRecord[]): Promise<void>;
  /** The owner's secrets, by name. */
  list(owner: SecretOwner): Promise<SealedSecretRecord[]>;
  /** Ids of the owners of this kind that have secrets, sorted. */
  owners(kind: SecretOwnerKind): Promise<string[]>;
  /** Deletes one secret of the owner; resolves with whether there was one. */
  delete(owner: SecretOwner, name: string): Promise<boolean>;
  /** Deletes the owner's secrets; resolves with how many there were. */
  deleteOwner(owner: SecretOwner): Promise<number>;
}
