import { persistenceOf, type Persistence } from './persistence.js';
import { SqliteApprovalStore } from './sqlite-approvals.js';
import { SqlitePlanStore } from './sqlite-plans.js';
import { SqliteSurfaceRefs } from './sqlite-refs.js';
import type { SqliteStore } from './sqlite.js';

/** Everything in one SQLite file, on the store's connection. */
export function sqlitePersistence(store: SqliteStore): Persistence {
  return persistenceOf({
    store,
    plans: new SqlitePlanStore(store),
    approvals: new SqliteApprovalStore(store),
    refs: new SqliteSurfaceRefs(store),
    // lane EVENTS: events: sqliteEventLog(store),
    // lane ARTIFACTS: artifacts: sqliteArtifactStore(store),
  });
}
