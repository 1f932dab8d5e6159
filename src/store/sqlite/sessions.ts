// Sessions: one row per session, and its metadata once more as one session_metadata row per key, so
// list filters are plain indexed equality joins.
import type { Kysely, Transaction } from 'kysely';
import { HangarError } from '../../errors/errors.js';
import type { SessionRecord, SessionRepository } from '../store.js';
import type { SessionsTable, StoreDatabase } from './schema.js';
import { chunks, insertOrConflict, isoNow, json, jsonOrNull, parse, parseOrNull, patchRecord, type RowMapping } from './sql-helpers.js';

function rowToSession(row: SessionsTable): SessionRecord {
  return {
    id: row.id,
    tenantId: row.tenant_id,
    pattern: row.pattern as SessionRecord['pattern'],
    status: row.status as SessionRecord['status'],
    options: parse(row.options_json),
    metadata: parse(row.metadata_json),
    sandboxId: row.sandbox_id,
    agentSessionId: row.agent_session_id,
    forkedFrom: parseOrNull(row.forked_from_json),
    turns: Number(row.turns),
    usage: parse(row.usage_json),
    usageByModel: parse(row.usage_by_model_json),
    costUsd: Number(row.cost_usd),
    contextTokens: Number(row.context_tokens),
    contextWindow: row.context_window === null ? null : Number(row.context_window),
    lastCheckpointId: row.last_checkpoint_id,
    error: parseOrNull(row.error_json),
    createdAt: row.created_at,
    updatedAt: row.updated_at,
    lastActivityAt: row.last_activity_at,
  };
}

function sessionToRow(session: SessionRecord): SessionsTable {
  return {
    id: session.id,
    tenant_id: session.tenantId,
    pattern: session.pattern,
    status: session.status,
    options_json: json(session.options),
    metadata_json: json(session.metadata),
    sandbox_id: session.sandboxId,
    agent_session_id: session.agentSessionId,
    forked_from_json: jsonOrNull(session.forkedFrom),
    turns: session.turns,
    usage_json: json(session.usage),
    usage_by_model_json: json(session.usageByModel),
    cost_usd: session.costUsd,
    context_tokens: session.contextTokens,
    context_window: session.contextWindow,
    last_checkpoint_id: session.lastCheckpointId,
    error_json: jsonOrNull(session.error),
    created_at: session.createdAt,
    updated_at: session.updatedAt,
    last_activity_at: session.lastActivityAt,
  };
}

const SESSIONS: RowMapping<'sessions', SessionRecord> = { table: 'sessions', toRecord: rowToSession, toRow: sessionToRow };

async function writeSessionMetadata(trx: Transaction<StoreDatabase>, sessionId: string, metadata: Record<string, string>): Promise<void> {
  await trx.deleteFrom('session_metadata').where('session_id', '=', sessionId).execute();
  const rows = Object.entries(metadata).map(([key, value]) => ({ session_id: sessionId, key, value }));
  for (const chunk of chunks(rows)) await trx.insertInto('session_metadata').values(chunk).execute();
}

export function createSessionRepository(db: Kysely<StoreDatabase>): SessionRepository {
  return {
    async insert(session) {
      await insertOrConflict(`session ${session.id}`, () =>
        db.transaction().execute(async (trx) => {
          await trx.insertInto('sessions').values(sessionToRow(session)).execute();
          await writeSessionMetadata(trx, session.id, session.metadata);
        }),
      );
    },
    async update(id, patch) {
      return patchRecord(
        db,
        SESSIONS,
        id,
        { ...patch, updatedAt: patch.updatedAt ?? isoNow() },
        {
          fixed: ['id', 'tenantId', 'createdAt'],
          missing: () => new HangarError('SESSION_NOT_FOUND', `session ${id} does not exist`),
          alsoWrite: async (trx, next) => {
            if (patch.metadata !== undefined) await writeSessionMetadata(trx, id, next.metadata);
          },
        },
      );
    },
    async get(id) {
      const row = await db.selectFrom('sessions').selectAll().where('id', '=', id).executeTakeFirst();
      return row === undefined ? undefined : rowToSession(row);
    },
    async list(query) {
      let select = db.selectFrom('sessions').selectAll('sessions');
      if (query.tenantId !== undefined) select = select.where('sessions.tenant_id', '=', query.tenantId);
      if (query.status !== undefined) select = select.where('status', '=', query.status);
      if (query.pattern !== undefined) select = select.where('pattern', '=', query.pattern);
      if (query.sandboxId !== undefined) select = select.where('sandbox_id', '=', query.sandboxId);
      for (const [key, value] of Object.entries(query.metadata ?? {})) {
        select = select.where((eb) =>
          eb.exists(
            eb
              .selectFrom('session_metadata')
              .select('session_metadata.session_id')
              .whereRef('session_metadata.session_id', '=', 'sessions.id')
              .where('session_metadata.key', '=', key)
              .where('session_metadata.value', '=', value),
          ),
        );
      }
      if (query.before !== undefined) {
        let anchorQuery = db.selectFrom('sessions').select(['created_at', 'id']).where('id', '=', query.before);
        if (query.tenantId !== undefined) anchorQuery = anchorQuery.where('tenant_id', '=', query.tenantId);
        const anchor = await anchorQuery.executeTakeFirst();
        if (anchor === undefined) throw new HangarError('SESSION_NOT_FOUND', `session ${query.before} (the paging cursor) does not exist`);
        select = select.where((eb) =>
          eb.or([
            eb('sessions.created_at', '<', anchor.created_at),
            eb.and([eb('sessions.created_at', '=', anchor.created_at), eb('sessions.id', '<', anchor.id)]),
          ]),
        );
      }
      const rows = await select.orderBy('sessions.created_at', 'desc').orderBy('sessions.id', 'desc').limit(query.limit).execute();
      return rows.map(rowToSession);
    },
    async countOpen(tenantId) {
      const row = await db
        .selectFrom('sessions')
        .select((eb) => eb.fn.countAll<number>().as('open'))
        .where('tenant_id', '=', tenantId)
        .where('status', '!=', 'closed')
        .executeTakeFirstOrThrow();
      return Number(row.open);
    },
    async listByStatus(statuses) {
      if (statuses.length === 0) return [];
      const rows = await db.selectFrom('sessions').selectAll().where('status', 'in', statuses).orderBy('created_at').orderBy('id').execute();
      return rows.map(rowToSession);
    },
  };
}
