// The tables of the SQLite database, as Kysely sees them: one interface per table, column names as
// stored. Each repository maps its table's rows to the Store port's records (rowTo<Record>) and back.

export interface TasksTable {
  id: string;
  tenant_id: string;
  status: string;
  prompt: string;
  options_json: string;
  created_at: string;
  finished_at: string | null;
  duration_ms: number | null;
  result: string | null;
  error_json: string | null;
  num_turns: number | null;
  agent_session_id: string | null;
  usage_json: string;
  usage_by_model_json: string;
  cost_usd: number;
  files_json: string;
  sandbox_report_json: string | null;
}

export interface SessionsTable {
  id: string;
  tenant_id: string;
  pattern: string;
  status: string;
  options_json: string;
  metadata_json: string;
  sandbox_id: string | null;
  agent_session_id: string | null;
  forked_from_json: string | null;
  turns: number;
  usage_json: string;
  usage_by_model_json: string;
  cost_usd: number;
  context_tokens: number;
  context_window: number | null;
  last_checkpoint_id: string | null;
  error_json: string | null;
  created_at: string;
  updated_at: string;
  last_activity_at: string;
}

/** One row per metadata key of a session, so list filters are plain indexed equality joins. */
export interface SessionMetadataTable {
  session_id: string;
  key: string;
  value: string;
}

export interface SessionMessagesTable {
  id: string;
  session_id: string;
  seq: number;
  prompt: string;
  source: string;
  status: string;
  error_json: string | null;
  created_at: string;
  started_at: string | null;
  finished_at: string | null;
}

export interface SessionEventsTable {
  session_id: string;
  seq: number;
  type: string;
  data_json: string;
  created_at: string;
}

/** Last number handed out per (kind, owner): 'events' and 'messages' per session id. */
export interface SequencesTable {
  kind: string;
  owner_id: string;
  last_value: number;
}

export interface CheckpointsTable {
  id: string;
  session_id: string;
  turn: number;
  blob_key: string;
  size_bytes: number;
  agent_session_id: string;
  transcript_entries: number;
  /** JSON of the CheckpointManifest; null for checkpoints recorded before manifests. */
  manifest_json: string | null;
  created_at: string;
}

/** One row per transcript ever written: its last position and last write time. */
export interface TranscriptKeysTable {
  project_key: string;
  session_id: string;
  /** '' for the main transcript. */
  subpath: string;
  last_position: number;
  /** Epoch ms of the last append. */
  mtime: number;
  created_at: string;
}

export interface TranscriptEntriesTable {
  project_key: string;
  session_id: string;
  subpath: string;
  position: number;
  uuid: string | null;
  entry_json: string;
  created_at: string;
}

export interface SchedulesTable {
  id: string;
  session_id: string;
  every: string | null;
  cron: string | null;
  prompt: string;
  /** 1 or 0 (SQLite has no boolean binding). */
  enabled: number;
  next_run_at: string;
  last_run_at: string | null;
  created_at: string;
}

export interface SharedSandboxesTable {
  id: string;
  tenant_id: string;
  status: string;
  resources_json: string;
  created_at: string;
  closed_at: string | null;
}

export interface EgressLogTable {
  owner_id: string;
  seq: number;
  at: string;
  method: string;
  host: string;
  port: number;
  verdict: string;
  reason: string;
  address: string | null;
  bytes_out: number;
  bytes_in: number;
  duration_ms: number;
}

export interface ApiKeysTable {
  id: string;
  tenant_id: string;
  name: string;
  secret_hash: string;
  scopes_json: string;
  created_at: string;
  revoked_at: string | null;
  last_used_at: string | null;
}

export interface TenantsTable {
  id: string;
  name: string;
  policy_json: string;
  created_at: string;
  updated_at: string;
}

export interface TenantDailyUsageTable {
  tenant_id: string;
  day: string;
  requests: number;
  input_tokens: number;
  output_tokens: number;
  cost_usd: number;
}

export interface SecretsTable {
  owner_kind: string;
  owner_id: string;
  name: string;
  /** The sealed value (egress/secret-sealing.ts), never the value in clear. */
  sealed: Buffer;
  /** Where the value may go (StoredSecretUse as JSON), for a tenant's secret; null otherwise. */
  use_json: string | null;
  created_at: string;
  updated_at: string;
}

export interface StoreDatabase {
  tasks: TasksTable;
  sessions: SessionsTable;
  session_metadata: SessionMetadataTable;
  session_messages: SessionMessagesTable;
  session_events: SessionEventsTable;
  sequences: SequencesTable;
  checkpoints: CheckpointsTable;
  transcript_keys: TranscriptKeysTable;
  transcript_entries: TranscriptEntriesTable;
  schedules: SchedulesTable;
  shared_sandboxes: SharedSandboxesTable;
  egress_log: EgressLogTable;
  api_keys: ApiKeysTable;
  tenants: TenantsTable;
  tenant_daily_usage: TenantDailyUsageTable;
  secrets: SecretsTable;
}
