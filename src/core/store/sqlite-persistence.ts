import { persistenceOf, type Persistence, type PersistenceOptions } from './persistence.js';
import { sqliteArtifactStore } from './sqlite-artifacts.js';
import { sqliteEventLog } from './sqlite-events.js';
import { SqliteApprovalStore } from './sqlite-approvals.js';
import { SqlitePlanStore } from './sqlite-plans.js';
import { SqliteSurfaceRefs } from './sqlite-refs.js';
import type { SqliteStore } from './sqlite.js';

/** Everything in one SQLite file, on the store's connection. */
export function sqlitePersistence(store: SqliteStore, opts: PersistenceOptions = {}): Persistence {
  return persistenceOf({
    store,
    plans: new SqlitePlanStore(store),
    approvals: new SqliteApprovalStore(store),
    refs: new SqliteSurfaceRefs(store),
    events: sqliteEventLog(store, { pollMs: opts.pollMs }),
    artifacts: sqliteArtifactStore(store, { dir: opts.artifactsDir }),
  });
}
