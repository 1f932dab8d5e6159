// The schema migrations, in order; Kysely's Migrator runs each once per database and records its name
// in kysely_migration. The names are what existing database files remember: never rename one, never
// change one that has shipped; add the next file instead.
import type { Migration } from 'kysely';
import { tasks } from './0001-tasks.js';
import { sessions } from './0002-sessions.js';
import { checkpointBlobKeys } from './0003-checkpoint-blob-keys.js';
import { checkpointManifests } from './0004-checkpoint-manifests.js';
import { egressLog } from './0005-egress-log.js';
import { apiKeys } from './0006-api-keys.js';
import { tenants } from './0007-tenants.js';
import { secrets } from './0008-secrets.js';
import { secretUse } from './0009-secret-use.js';

export const MIGRATIONS: Record<string, Migration> = {
  '0001-tasks': tasks,
  '0002-sessions': sessions,
  '0003-checkpoint-blob-keys': checkpointBlobKeys,
  '0004-checkpoint-manifests': checkpointManifests,
  '0005-egress-log': egressLog,
  '0006-api-keys': apiKeys,
  '0007-tenants': tenants,
  '0008-secrets': secrets,
  '0009-secret-use': secretUse,
};
