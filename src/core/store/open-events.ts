import type { EventLog } from '../events/log.js';
import type { Store } from './types.js';

/** The event log that lives beside `store`, in the same database; null for a Store this module does not know. */
export async function eventLogFor(store: Store, opts: { pollMs?: number } = {}): Promise<EventLog | null> {
  const { SqliteStore } = await import('./sqlite.js');
  if (store instanceof SqliteStore) {
    const { sqliteEventLog } = await import('./sqlite-events.js');
    return sqliteEventLog(store, opts);
  }
  if (store.constructor.name === 'PostgresStore') {
    const { PostgresStore } = await import('./postgres.js');
    if (store instanceof PostgresStore) {
      const { postgresEventLog } = await import('./postgres-events.js');
      return postgresEventLog(store);
    }
  }
  return null;
}
