import { resolve } from 'node:path';
import type { Config } from '../agents/spec.js';
import type { ApprovalStore } from './approval-store.js';
import { storeUnavailable } from './open-errors.js';
import type { PlanStore } from './plan-store.js';
import type { SurfaceRefStore } from './refs.js';
import type { Store } from './types.js';

/**
 * Everything the engine keeps, for one database: the core store and the stores that live beside it
 * on its connection, each with its own tables and migrations. One factory per dialect
 * (`sqlitePersistence`, `postgresPersistence`) builds it, so nothing chooses a store by class name.
 */
export interface Persistence {
  /** Conversations, participants, threads, messages, runs, steps. */
  store: Store;
  /** Plans and their steps. */
  plans: PlanStore;
  /** Approvals on their own: tool-call approvals work without plans. */
  approvals: ApprovalStore;
  /** Surface references (adapters' handles per run, approval, plan…), shared by replicas. */
  refs: SurfaceRefStore;
  // Slot for lane EVENTS: `events: EventLog` (sqliteEventLog(store) / postgresEventLog(store) in the factories).
  events?: unknown;
  // Slot for lane ARTIFACTS: `artifacts: ArtifactStore` (built the same way).
  artifacts?: unknown;
  /** Initialises the store, then the stores beside it (each applies its own migrations); idempotent. */
  init(): Promise<void>;
  close(): Promise<void>;
}

/** What the engine runs on when it was given a Store of its own kind: plans, approvals and refs are absent. */
export type PartialPersistence = Pick<Persistence, 'store' | 'init' | 'close'> & Partial<Omit<Persistence, 'store' | 'init' | 'close'>>;

/** A Persistence from its parts; `init` initialises the store first (the others build on its tables). */
export function persistenceOf(parts: Omit<Persistence, 'init' | 'close'>): Persistence {
  return {
    ...parts,
    async init() {
      await parts.store.init();
      await parts.plans.init();
      await parts.approvals.init();
      await parts.refs.init();
    },
    close: () => parts.store.close(),
  };
}

/**
 * Opens the persistence the config names. The driver loads on demand (an unused one costs nothing);
 * a database that cannot be reached becomes a StoreUnavailableError at open and at `init`.
 */
export async function openPersistence(config: Config['store'], cwd: string): Promise<Persistence> {
  const where = config.type === 'sqlite' && config.path !== ':memory:' ? resolve(cwd, config.path) : ':memory:';
  let persistence: Persistence;
  try {
    if (config.type === 'sqlite') {
      const [{ SqliteStore }, { sqlitePersistence }] = await Promise.all([import('./sqlite.js'), import('./sqlite-persistence.js')]);
      persistence = sqlitePersistence(new SqliteStore({ path: config.path === ':memory:' ? ':memory:' : resolve(cwd, config.path) }));
    } else {
      const [{ PostgresStore }, { postgresPersistence }] = await Promise.all([import('./postgres.js'), import('./postgres-persistence.js')]);
      persistence = postgresPersistence(new PostgresStore({ url: config.url }));
    }
  } catch (err) {
    throw storeUnavailable(config, where, err);
  }
  // The store's own init is where the connection is first used (openStore hands out the store alone).
  const { store } = persistence;
  const init = store.init.bind(store);
  store.init = () => init().catch((err: unknown) => Promise.reject(storeUnavailable(config, where, err)));
  return persistence;
}

/**
 * What createSwitchboard runs on: the given persistence; else the given store with the stores beside
 * it (when it has them) and `planStore` in place of its plans; else the one the config names.
 */
export async function resolvePersistence(
  options: { persistence?: PartialPersistence; store?: Store; planStore?: PlanStore },
  config: Config['store'],
  cwd: string,
): Promise<PartialPersistence> {
  let base: PartialPersistence;
  if (options.persistence) base = options.persistence;
  else if (options.store) base = (await options.store.persistence?.()) ?? bare(options.store);
  else base = await openPersistence(config, cwd);
  if (!options.planStore) return base;
  const plans = options.planStore;
  const init = base.init.bind(base);
  return { ...base, plans, init: async () => (await init(), await plans.init()) };
}

function bare(store: Store): PartialPersistence {
  return { store, init: () => store.init(), close: () => store.close() };
}
