// Migration 0004-checkpoint-manifests: a manifest column on checkpoints.
import type { Kysely, Migration } from 'kysely';

export const checkpointManifests: Migration = {
  async up(db: Kysely<unknown>) {
    // What a restore verifies first: archive size and hash, transcript position and hash.
    await db.schema.alterTable('checkpoints').addColumn('manifest_json', 'text').execute();
  },
};
