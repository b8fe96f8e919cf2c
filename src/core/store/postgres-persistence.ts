import { persistenceOf, type Persistence, type PersistenceOptions } from './persistence.js';
import { postgresArtifactStore } from './postgres-artifacts.js';
import { postgresEventLog } from './postgres-events.js';
import { PostgresApprovalStore } from './postgres-approvals.js';
import { PostgresPlanStore } from './postgres-plans.js';
import { PostgresSurfaceRefs } from './postgres-refs.js';
import type { PostgresStore } from './postgres.js';

/** Everything in one PostgreSQL database and schema, through the store's pool. */
export function postgresPersistence(store: PostgresStore, opts: PersistenceOptions = {}): Persistence {
  return persistenceOf({
    store,
    plans: new PostgresPlanStore(store),
    approvals: new PostgresApprovalStore(store),
    refs: new PostgresSurfaceRefs(store),
    events: postgresEventLog(store),
    artifacts: postgresArtifactStore(store, { dir: opts.artifactsDir }),
  });
}
