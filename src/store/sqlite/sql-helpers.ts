// What every repository of the SQLite adapter shares: JSON columns, timestamps, chunked statements,
// duplicate keys as CONFLICT, sequence counters, and the one way a stored record is patched (read, merge,
// write, in one transaction).
import type { Kysely, Transaction } from 'kysely';
import { HangarError } from '../../errors/errors.js';
import type { StoreDatabase } from './schema.js';

// ---- JSON columns ----

/** A JSON column's text; undefined is stored as null. */
export const json = (value: unknown): string => JSON.stringify(value ?? null);
/** A nullable JSON column's text: SQL NULL for null or undefined. */
export const jsonOrNull = (value: unknown): string | null => (value === null || value === undefined ? null : JSON.stringify(value));
export const parse = <T>(text: string): T => JSON.parse(text) as T;
export const parseOrNull = <T>(text: string | null): T | null => (text === null ? null : (JSON.parse(text) as T));

// ---- timestamps ----

/** Now, as the ISO 8601 text every timestamp column holds. */
export const isoNow = (): string => new Date().toISOString();

// ---- statements ----

/** Rows per multi-row INSERT or IN list, well under SQLite's and Postgres's bound-parameter limits. */
const CHUNK = 200;

export function chunks<T>(items: T[], size = CHUNK): T[][] {
  const result: T[][] = [];
  for (let index = 0; index < items.length; index += size) result.push(items.slice(index, index + size));
  return result;
}

/** True when the error is a primary-key or unique-constraint violation. */
function isUniqueViolation(error: unknown): boolean {
  const code = (error as { code?: unknown } | null)?.code;
  return code === 'SQLITE_CONSTRAINT_PRIMARYKEY' || code === 'SQLITE_CONSTRAINT_UNIQUE';
}

/** Runs an insert, turning a duplicate key into a CONFLICT error. */
export async function insertOrConflict<T>(what: string, run: () => Promise<T>): Promise<T> {
  try {
    return await run();
  } catch (error) {
    if (isUniqueViolation(error)) throw new HangarError('CONFLICT', `${what} already exists`, { cause: error });
    throw error;
  }
}

// ---- transactions ----

/** Hands out `count` consecutive numbers for (kind, owner) and returns the last one; call it inside the transaction that uses them. */
export async function advanceSequence(trx: Transaction<StoreDatabase>, kind: string, ownerId: string, count: number): Promise<number> {
  await trx
    .insertInto('sequences')
    .values({ kind, owner_id: ownerId, last_value: 0 })
    .onConflict((conflict) => conflict.columns(['kind', 'owner_id']).doNothing())
    .execute();
  const row = await trx
    .updateTable('sequences')
    .set((eb) => ({ last_value: eb('last_value', '+', count) }))
    .where('kind', '=', kind)
    .where('owner_id', '=', ownerId)
    .returning('last_value')
    .executeTakeFirstOrThrow();
  return Number(row.last_value);
}

/** The tables whose rows are found by an `id` column. */
type TableWithId = { [T in keyof StoreDatabase]: StoreDatabase[T] extends { id: string } ? T : never }[keyof StoreDatabase];

/** How one table's rows map to records and back: the `rowTo<Record>` and `<record>ToRow` beside each repository. */
export interface RowMapping<T extends TableWithId, R> {
  table: T;
  toRecord(row: StoreDatabase[T]): R;
  toRow(record: R): StoreDatabase[T];
}

export interface PatchOptions<R> {
  /** Fields a patch never changes, even when it names them. */
  fixed: ReadonlyArray<keyof R>;
  /** The error for an id with no row. */
  missing: () => HangarError;
  /** Writes what else follows the new record (rows of other tables), in the same transaction. */
  alsoWrite?: (trx: Transaction<StoreDatabase>, next: R) => Promise<void>;
}

/**
 * Applies a patch to the record stored under `id` in one transaction: reads the row, sets the patch's
 * defined fields (except the fixed ones) on its record, writes back the columns that changed, and returns
 * the record as it is now stored. Concurrent patches of different fields therefore all survive.
 */
export async function patchRecord<T extends TableWithId, R extends object>(
  db: Kysely<StoreDatabase>,
  mapping: RowMapping<T, R>,
  id: string,
  patch: Partial<NoInfer<R>>,
  options: PatchOptions<NoInfer<R>>,
): Promise<R> {
  return db.transaction().execute(async (trx) => {
    // Kysely cannot check a query on a table named by a type parameter; each of these tables has an id column.
    const rows = trx as unknown as Transaction<Record<string, { id: string } & Record<string, unknown>>>;
    const table: string = mapping.table;
    const stored = await rows.selectFrom(table).selectAll().where('id', '=', id).executeTakeFirst();
    if (stored === undefined) throw options.missing();
    const next: R = { ...mapping.toRecord(stored as unknown as StoreDatabase[T]) };
    for (const [field, value] of Object.entries(patch) as Array<[keyof R, R[keyof R]]>) {
      if (value !== undefined && !options.fixed.includes(field)) next[field] = value;
    }
    const row = mapping.toRow(next);
    const changed = Object.fromEntries(Object.entries(row).filter(([column, value]) => value !== stored[column]));
    if (Object.keys(changed).length > 0) await rows.updateTable(table).set(changed).where('id', '=', id).execute();
    await options.alsoWrite?.(trx, next);
    return mapping.toRecord(row);
  });
}
