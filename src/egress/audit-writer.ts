// Writes the egress proxy's decisions to the store's egress log: buffered per owner (task or
// session) and flushed in batches, at most every FLUSH_INTERVAL_MS, so a sandbox that opens many
// connections costs a write per batch, not per connection. What one owner may have waiting is
// bounded; past it the oldest waiting records are dropped and counted in the next one written.
import type { Logger } from 'pino';
import type { EgressLogRepository } from '../store/store.js';
import type { EgressRecord } from './audit.js';

const FLUSH_INTERVAL_MS = 1000;
/** Records one owner may have waiting for a flush. */
const MAX_PENDING_PER_OWNER = 1000;

export interface EgressAuditWriter {
  record(ownerId: string, record: EgressRecord): void;
  /** Writes what is waiting now. */
  flush(): Promise<void>;
  /** Flushes and stops the timer. */
  close(): Promise<void>;
}

export function createEgressAuditWriter(settings: { log: EgressLogRepository; keepPerOwner: number; logger: Logger }): EgressAuditWriter {
  const pending = new Map<string, { records: EgressRecord[]; dropped: number }>();
  let flushing: Promise<void> = Promise.resolve();

  const flushNow = async (): Promise<void> => {
    const batches = [...pending.entries()];
    pending.clear();
    for (const [ownerId, { records, dropped }] of batches) {
      const entries = records.map((record) => ({ ...record, address: record.address ?? null }));
      if (dropped > 0 && entries[0] !== undefined)
        entries[0] = { ...entries[0], reason: `${entries[0].reason} (${dropped} earlier records dropped: too many at once)` };
      await settings.log
        .append(ownerId, entries, settings.keepPerOwner)
        .catch((error: unknown) => settings.logger.warn({ ownerId, err: error }, 'cannot write the egress log'));
    }
  };
  const flush = (): Promise<void> => {
    flushing = flushing.then(flushNow);
    return flushing;
  };
  const timer = setInterval(() => {
    if (pending.size > 0) void flush();
  }, FLUSH_INTERVAL_MS);
  timer.unref();

  return {
    record(ownerId, record) {
      let entry = pending.get(ownerId);
      if (entry === undefined) {
        entry = { records: [], dropped: 0 };
        pending.set(ownerId, entry);
      }
      entry.records.push(record);
      if (entry.records.length > MAX_PENDING_PER_OWNER) {
        entry.records.shift();
        entry.dropped += 1;
      }
    },
    flush,
    async close() {
      clearInterval(timer);
      await flush();
    },
  };
}
