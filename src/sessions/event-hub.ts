// The durable event stream of sessions: every event is stored with its sequence number first,
// then announced to live subscribers. A reader replays from the store after the last id it saw
// and then follows announcements, so a reconnecting client gets every event exactly once, in order.
import { EventEmitter } from 'node:events';
import type { EventLogRepository, SessionEvent } from '../store/store.js';

export interface EventHub {
  /** Stores events for a session (in order, consecutive seqs) and wakes its followers. */
  publish(sessionId: string, events: Array<{ type: string; data: unknown }>): Promise<SessionEvent[]>;
  /**
   * Yields every event with seq > after, then follows new ones until the signal aborts or
   * `isFinished` says the session will emit nothing more and everything was delivered.
   */
  follow(sessionId: string, options: { after: number; signal: AbortSignal; isFinished?: () => Promise<boolean> }): AsyncGenerator<SessionEvent>;
}

const REPLAY_PAGE = 500;

export function createEventHub(events: EventLogRepository): EventHub {
  const announcements = new EventEmitter();
  announcements.setMaxListeners(0);
  // Appends of one session are serialized so that announcements follow storage order.
  const tails = new Map<string, Promise<unknown>>();

  return {
    async publish(sessionId, batch) {
      const previous = tails.get(sessionId) ?? Promise.resolve();
      const stored = previous.catch(() => undefined).then(() => events.append(sessionId, batch));
      tails.set(sessionId, stored);
      try {
        const result = await stored;
        announcements.emit(sessionId);
        return result;
      } finally {
        if (tails.get(sessionId) === stored) tails.delete(sessionId);
      }
    },

    async *follow(sessionId, options) {
      let after = options.after;
      while (!options.signal.aborted) {
        // Subscribe before reading so an event stored between the read and the wait is not missed.
        let wake: () => void = () => undefined;
        const announced = new Promise<void>((resolve) => {
          wake = resolve;
        });
        const onAnnouncement = (): void => wake();
        const onAbort = (): void => wake();
        announcements.on(sessionId, onAnnouncement);
        options.signal.addEventListener('abort', onAbort, { once: true });
        try {
          let page = await events.read(sessionId, { after, limit: REPLAY_PAGE });
          while (page.length > 0) {
            for (const event of page) {
              yield event;
              after = event.seq;
            }
            if (options.signal.aborted) return;
            page = page.length === REPLAY_PAGE ? await events.read(sessionId, { after, limit: REPLAY_PAGE }) : [];
          }
          if (options.isFinished !== undefined && (await options.isFinished())) {
            // One more read: an event may have landed while the status was checked.
            const tail = await events.read(sessionId, { after, limit: REPLAY_PAGE });
            if (tail.length === 0) return;
            continue;
          }
          await announced;
        } finally {
          announcements.off(sessionId, onAnnouncement);
          options.signal.removeEventListener('abort', onAbort);
        }
      }
    },
  };
}
