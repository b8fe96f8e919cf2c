import { persistenceOf, type Persistence } from './persistence.js';
import { PostgresApprovalStore } from './postgres-approvals.js';
import { PostgresPlanStore } from './postgres-plans.js';
import { PostgresSurfaceRefs } from './postgres-refs.js';
import type { PostgresStore } from './postgres.js';

/** Everything in one PostgreSQL database and schema, through the store's pool. */
export function postgresPersistence(store: PostgresStore): Persistence {
  return persistenceOf({
    store,
    plans: new PostgresPlanStore(store),
    approvals: new PostgresApprovalStore(store),
    refs: new PostgresSurfaceRefs(store),
    // lane EVENTS: events: postgresEventLog(store),
    // lane ARTIFACTS: artifacts: postgresArtifactStore(store),
  });
}
