// Migration 0003-checkpoint-blob-keys: an index of checkpoints by blob key.
import type { Kysely, Migration } from 'kysely';

export const checkpointBlobKeys: Migration = {
  async up(db: Kysely<unknown>) {
    // The blob sweep asks, per blob, whether a checkpoint still refers to it.
    await db.schema.createIndex('checkpoints_blob_key').on('checkpoints').column('blob_key').execute();
  },
};
