// Ids of everything Hangar records or creates: a prefix naming the kind, then random hex.
import { randomBytes } from 'node:crypto';

/** Kinds of stored records, each with its id prefix. */
export type RecordIdPrefix = 'task' | 'sess' | 'msg' | 'sched' | 'sbx' | 'ckpt';

/** A record id: `<prefix>_<32 hex>` (128 random bits), e.g. `task_4f0c...`. */
export function newRecordId(prefix: RecordIdPrefix): string {
  return `${prefix}_${randomBytes(16).toString('hex')}`;
}

/**
 * A sandbox id a provider makes up: `<prefix>-<16 hex>` (64 random bits), short because it names
 * host paths, mount points and cgroups.
 */
export function newSandboxId(prefix: string): string {
  return `${prefix}-${randomBytes(8).toString('hex')}`;
}
