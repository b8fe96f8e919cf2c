import { resolve } from 'node:path';
import type { Config } from '../agents/spec.js';
import type { ArtifactStore } from '../artifacts/types.js';
import type { EventLog } from '../events/log.js';
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
  /** Stored lifecycle events and the wake-ups that carry them to other processes. */
  events: EventLog;
  /** Generated and received files (images), bytes in the database or in `artifactsDir`. */
  artifacts: ArtifactStore;
  /** Initialises the store, then the stores beside it (each applies its own migrations); idempotent. */
  init(): Promise<void>;
  close(): Promise<void>;
}

/** What the engine runs on when it was given a Store of its own kind: plans, approvals and refs are absent. */
export type PartialPersistence = Pick<Persistence, 'store' | 'init' | 'close'> & Partial<Omit<Persistence, 'store' | 'init' | 'close'>>;

/** What the stores beside the core store need from the config (and, for tests, the engine's polling). */
export interface PersistenceOptions {
  /** Absolute folder every replica can read: artifact bytes go there instead of the database. */
  artifactsDir?: string;
  /** How often a SQLite event log looks for other processes' events (default 200 ms). */
  pollMs?: number;
}

/** A Persistence from its parts; `init` initialises the store first (the others build on its tables). */
export function persistenceOf(parts: Omit<Persistence, 'init' | 'close'>): Persistence {
  return {
    ...parts,
    async init() {
      await parts.store.init();
      await parts.plans.init();
      await parts.approvals.init();
      await parts.refs.init();
      await parts.events.init();
      await parts.artifacts.init();
    },
    async close() {
      // The event log holds a listening connection or a timer on the store; it goes first.
      await parts.events.close();
      await parts.store.close();
    },
  };
}

/**
 * Opens the persistence the config names. The driver loads on demand (an unused one costs nothing);
 * a database that cannot be reached becomes a StoreUnavailableError at open and at `init`.
 */
export async function openPersistence(config: Config['store'], cwd: string, opts: PersistenceOptions = {}): Promise<Persistence> {
  const where = config.type === 'sqlite' && config.path !== ':memory:' ? resolve(cwd, config.path) : ':memory:';
  let persistence: Persistence;
  try {
    if (config.type === 'sqlite') {
      const [{ SqliteStore }, { sqlitePersistence }] = await Promise.all([import('./sqlite.js'), import('./sqlite-persistence.js')]);
      persistence = sqlitePersistence(new SqliteStore({ path: config.path === ':memory:' ? ':memory:' : resolve(cwd, config.path) }), opts);
    } else {
      const [{ PostgresStore }, { postgresPersistence }] = await Promise.all([import('./postgres.js'), import('./postgres-persistence.js')]);
      persistence = postgresPersistence(new PostgresStore({ url: config.url }), opts);
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
 * `config.artifacts.dir` is resolved against `cwd`.
 */
export async function resolvePersistence(
  options: { persistence?: PartialPersistence; store?: Store; planStore?: PlanStore; engine?: { pollMs?: number } },
  config: Pick<Config, 'store' | 'artifacts'>,
  cwd: string,
): Promise<PartialPersistence> {
  const opts: PersistenceOptions = { pollMs: options.engine?.pollMs };
  if (config.artifacts.dir) opts.artifactsDir = resolve(cwd, config.artifacts.dir);
  let base: PartialPersistence;
  if (options.persistence) base = options.persistence;
  else if (options.store) base = (await options.store.persistence?.(opts)) ?? bare(options.store);
  else base = await openPersistence(config.store, cwd, opts);
  if (!options.planStore) return base;
  const plans = options.planStore;
  const init = base.init.bind(base);
  return { ...base, plans, init: async () => (await init(), await plans.init()) };
}

function bare(store: Store): PartialPersistence {
  return { store, init: () => store.init(), close: () => store.close() };
}
