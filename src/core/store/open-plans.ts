import type { PlanStore } from './plan-store.js';
import type { Store } from './types.js';

/** The plan store that lives beside `store`, in the same database; null for a Store this module does not know. */
export async function planStoreFor(store: Store): Promise<PlanStore | null> {
  const { SqliteStore } = await import('./sqlite.js');
  if (store instanceof SqliteStore) {
    const { SqlitePlanStore } = await import('./sqlite-plans.js');
    return new SqlitePlanStore(store);
  }
  if (store.constructor.name === 'PostgresStore') {
    const { PostgresStore } = await import('./postgres.js');
    if (store instanceof PostgresStore) {
      const { PostgresPlanStore } = await import('./postgres-plans.js');
      return new PostgresPlanStore(store);
    }
  }
  return null;
}
